"""Requests batched into one sampling call get the samples they would get alone, and the batcher batches
exactly the requests that can share a call."""

from __future__ import annotations

import pytest
import torch

from noisecraft.errors import ConfigError
from noisecraft.models.noise import RowGenerators, randn
from noisecraft.sampling import generate, generate_batch, generate_text
from noisecraft.serve.batcher import Batcher
from .conftest import make_service


def test_row_generators_draw_each_group_as_it_would_alone():
    alone = [torch.randn(2, 5, generator=torch.Generator().manual_seed(s)) for s in (1, 2)]
    together = randn((4, 5), RowGenerators([(torch.Generator().manual_seed(1), 2), (torch.Generator().manual_seed(2), 2)]))
    assert torch.equal(together, torch.cat(alone))
    with pytest.raises(ValueError, match="cover 4 rows"):
        randn((3, 5), RowGenerators([(torch.Generator(), 4)]))


@pytest.mark.parametrize("name, options", [("vae", {}), ("vae", {"temperature": 0.5}),
                                           ("diff", {"sampler": "ddpm", "steps": 3}), ("diff", {"sampler": "dpmpp-2m"})])
def test_a_batch_gives_each_request_its_samples_alone(served, name, options):
    model = served[name].model
    requests = [(2, 7, None), (3, 11, "b" if name == "diff" else None), (1, 7, None)]
    batched = generate_batch(model, requests, **options)
    for (num, seed, condition), got in zip(requests, batched):
        alone = generate(model, num, seed=seed, condition=condition, **options)
        assert got.shape == alone.shape
        torch.testing.assert_close(got, alone, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(batched[0], batched[1][:2])  # different seeds, different samples


def test_batched_texts_are_the_generate_commands_texts(served):
    model = served["text"].model
    batched = generate_batch(model, [(2, 3, "he"), (1, 9, "he")], max_tokens=8)
    assert batched[0] == [generate_text(model, 1, seed=3, prompt="he", max_tokens=8)[0],
                          generate_text(model, 1, seed=4, prompt="he", max_tokens=8)[0]]
    assert batched[1] == generate_text(model, 1, seed=9, prompt="he", max_tokens=8)
    with pytest.raises(ConfigError, match="share their prompt"):
        generate_batch(model, [(1, 0, "he"), (1, 0, "wo")])


def submit_together(batcher: Batcher, jobs) -> list:
    """Queue all jobs while holding the batcher's lock, so its thread sees them at once."""
    with batcher.ready:
        for job in jobs:
            batcher.queue.append(job)
        batcher.ready.notify()
    return [job.future.result(timeout=60) for job in jobs]


@pytest.mark.parametrize("batching, calls", [(True, 1), (False, 3)])
def test_requests_arriving_together_share_one_call_when_batching(served, batching, calls):
    service = make_service(served, batching=batching)
    jobs = [service.submit("diff", 2, seed, cls, steps=2) for seed, cls in [(1, None), (2, "a"), (3, 2)]]
    results = submit_together(service.batcher, jobs)
    assert service.batcher.calls == calls
    for job, got in zip(jobs, results):
        torch.testing.assert_close(got, generate(served["diff"].model, 2, seed=job.seed, condition=job.condition, steps=2),
                                   atol=1e-5, rtol=1e-4)


def test_only_requests_with_the_same_model_and_settings_share_a_call(served):
    service = make_service(served)
    jobs = [service.submit("diff", 1, 0, None, steps=2), service.submit("diff", 1, 0, None, steps=3),
            service.submit("vae", 1, 0), service.submit("diff", 1, 5, None, steps=2),
            service.submit("text", 1, 0, "he", max_tokens=4), service.submit("text", 1, 1, "wo", max_tokens=4)]
    submit_together(service.batcher, jobs)
    assert service.batcher.calls == 5  # the two steps=2 diffusion jobs together; the two prompts apart


def test_a_batch_never_exceeds_its_image_limit(served):
    batcher = Batcher(max_images=4)
    service = make_service(served)
    jobs = [service.submit("vae", 3, seed) for seed in range(3)]
    submit_together(batcher, jobs)
    batcher.close()
    assert batcher.calls == 3
    late = service.submit("vae", 1, 0)
    assert batcher.submit(late).cancelled()  # a closed batcher takes nothing more


def test_a_failing_call_fails_its_requests_and_the_thread_serves_on(served):
    service = make_service(served)
    bad = service.submit("diff", 1, 0, None, steps=2)
    bad.options["eta"] = 0.5  # ddpm refuses eta != 1 inside the sampler (dpmpp-2m is the default: force ddpm)
    bad.options["sampler"] = "ddpm"
    service.batcher.submit(bad)
    with pytest.raises(ConfigError, match="eta"):
        bad.future.result(timeout=60)
    assert service.run("vae", 2, 0).images


def test_a_request_past_the_time_limit_is_dropped_from_the_queue(served):
    from noisecraft.serve.service import GenerationTimeout
    from noisecraft.utils.cancel import Cancelled

    service = make_service(served, timeout=0.001)
    slow = service.submit("diff", 16, 0, None, steps=400)
    service.batcher.submit(slow)
    queued = service.submit("vae", 1, 0)
    service.batcher.submit(queued)
    with pytest.raises(GenerationTimeout, match="limit of 0.001 s"):
        service.wait(queued)
    assert queued.future.cancelled()
    with pytest.raises(Cancelled):  # past its own limit too: stopped at a step, not after all 400
        slow.future.result(timeout=120)
    assert service.batcher.calls == 1  # the cancelled request was never sampled

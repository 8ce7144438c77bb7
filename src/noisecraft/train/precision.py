"""`train.precision: auto`: bf16 autocast where the hardware runs bf16 natively, fp32 elsewhere.

CPUs: AMX or AVX512-BF16 (oneDNN's bf16 kernels then beat fp32; without them bf16 is emulated and slower).
GPUs: CUDA devices that support bf16 (Ampere and later). The choice and its reason go into the run's
config.yaml header.
"""

from __future__ import annotations

import torch


def native_bf16(device: torch.device | str) -> tuple[bool, str]:
    """Whether `device` runs bf16 matrix math natively, and what was found."""
    device = torch.device(device)
    if device.type == "cuda":
        ok = torch.cuda.is_bf16_supported()
        return ok, f"{torch.cuda.get_device_name(device)} {'supports' if ok else 'lacks'} bf16"
    if device.type == "cpu":
        cpu = getattr(torch, "cpu", None)
        amx = bool(getattr(cpu, "_is_amx_tile_supported", lambda: False)())
        avx = bool(getattr(cpu, "_is_avx512_bf16_supported", lambda: False)())
        found = [name for name, ok in (("AMX", amx), ("AVX512-BF16", avx)) if ok]
        return bool(found), f"CPU with {' and '.join(found)}" if found else "CPU without AMX or AVX512-BF16"
    return False, f"{device.type}: bf16 not chosen automatically"


def resolve_precision(requested: str, device: torch.device | str) -> tuple[str, str]:
    """'32' | 'bf16-mixed' as asked; 'auto' -> 'bf16-mixed' on native bf16 hardware, else '32'. With the reason."""
    if requested != "auto":
        return requested, "as the recipe says"
    ok, found = native_bf16(device)
    return ("bf16-mixed" if ok else "32"), f"auto: {found}"

"""SMILES and SELFIES tokenizers: round trips on bracket atoms, rings, stereo; saved and rebuilt as JSON."""

import pytest
from rdkit import Chem

from noisecraft.errors import ConfigError
from noisecraft.text.molecule_tokenizers import SelfiesTokenizer, SmilesTokenizer, smiles_tokens
from noisecraft.text.tokenizers import tokenizer_from_dict, train_tokenizer

MOLECULES = [
    "CC(=O)Oc1ccccc1C(=O)O",                      # aspirin: branches, aromatic ring
    "N[C@@H](Cc1ccc(O)cc1)C(=O)O",                 # tyrosine: a stereo bracket atom
    "C/C=C/C(Cl)Br",                               # double-bond stereo, two-letter atoms
    "c1ccc2[nH]ccc2c1",                            # indole: [nH], ring closures
    "[O-][N+](=O)c1ccccc1",                        # charges
    "C1CC2CCC3CCC4CCC5CCC6CCC7CCC8CCC9CCC%10CC1C2C3C4C5C6C7C8C9%10",  # two-digit ring closure
]


def test_smiles_tokens_keep_atoms_whole():
    assert smiles_tokens("N[C@@H](Cl)Br") == ["N", "[C@@H]", "(", "Cl", ")", "Br"]
    assert smiles_tokens("<qed:0.9>c1%12\n") == ["<qed:0.9>", "c", "1", "%12", "\n"]


@pytest.mark.parametrize("kind", ["smiles", "selfies"])
def test_round_trip(kind):
    text = "\n".join(MOLECULES) + "\n"
    tok = train_tokenizer(kind, [text])
    again = tokenizer_from_dict(tok.to_dict())
    decoded = again.decode(again.encode(text))
    if kind == "smiles":
        assert decoded == text  # character for character
    else:  # SELFIES gives the same molecules back (not always the same string)
        lines = decoded.split("\n")[:-1]
        assert [Chem.CanonSmiles(s) for s in lines] == [Chem.CanonSmiles(s) for s in MOLECULES]


def test_selfies_keeps_property_tokens_and_any_string_decodes():
    tok = SelfiesTokenizer.train(["<qed:0.8>CCO\nc1ccccc1"])
    assert tok.decode(tok.encode("<qed:0.8>CCO")) == "<qed:0.8>CCO"
    symbols = [t for t in tok.vocab if t.startswith("[")]
    scrambled = tok.decode([tok.vocab.index(s) for s in reversed(symbols * 3)])
    assert Chem.MolFromSmiles(scrambled) is not None


def test_unknown_characters_and_tokens_are_named():
    with pytest.raises(ConfigError, match="'!'.*line 2"):
        smiles_tokens("CCO\nCC!C")
    tok = SmilesTokenizer.train(["CCO"])
    with pytest.raises(ConfigError, match="Cl"):
        tok.encode("CCCl")

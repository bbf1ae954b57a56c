r"""A language-model checkpoint stepped one token at a time in NumPy, without torch.

``grukit generate`` spent most of its start importing torch (1.4-1.6 s on the 2-core
machine, NumPy 0.1 s). One step of a language model at batch 1 is a few matrix-vector
products, so for the models below it runs here, in float32 like the torch model: the
first token comes well within a second of the command's start (tokens per second against
the fused torch path: ``benchmarks/generation.py``). ``grukit.inference.generation`` picks
this engine when :func:`unsupported` finds nothing against it, else the torch model's
``step()``; both give the same logits (tested to 1e-5) and so, for a seed, the same text.

Steppable here: a language-model checkpoint (an embedding, a per-step read-out)
whose recurrent layers are unidirectional and one of

- grukit's ``gru`` (Cho et al.'s fully gated unit), the reset gate after the recurrent
  matmul (the default, torch.nn.GRU's form) or before it, without layer norm or zoneout;
- torch.nn.LSTM; torch.nn.RNN (tanh).

Each layer's input x is the embedding row of the token (first layer) or the layer below's
new state; h, c its state; weights in torch's layout, gate rows in order (r z n; i f g o).
A ``gru`` layer's step is grukit's own statement of it, ``grukit.cells.equations.
gated_step`` (the function the reference runner calls on torch tensors), here on NumPy
arrays from the input projection ``W_ih x + b_ih``. torch's LSTM and tanh RNN are not
grukit cells: their equations, torch's, are restated here (sigma the logistic function,
(.) the elementwise product), and the equality tests against torch hold them::

    lstm:               [i f g o] = W_ih x + b_ih + W_hh h + b_hh
                        c' = sigma(f) (.) c + sigma(i) (.) tanh(g),  h' = sigma(o) (.) tanh(c')
    rnn:                h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
    read-out:           logits = W_out h'_last + b_out  (V,)

Shapes: V vocabulary, E embedding, H hidden units; weight_ih (G H, E or H), weight_hh
(G H, H) with G = 3 (gru), 4 (lstm), 1 (rnn).
"""

from __future__ import annotations

import numpy as np

from grukit.cells.equations import gated_step, gru_family_flags, sigmoid

# grukit's "gru" with reset_after unset resets after the matmul (grukit.cells.cell_spec);
# the torch-vs-NumPy test on a default model would catch a change.
DEFAULT_RESET_AFTER = True
MODELS = ("gru", "lstm", "rnn")
GATES = {"gru": 3, "lstm": 4, "rnn": 1}

State = list  # per layer: h (H,), or (h, c) for an LSTM


def unsupported(config: dict, model_shape: dict) -> str | None:
    """What a checkpoint's model has that keeps it from being stepped here, as "the model
    has ..." ends (None: nothing); ``config`` and ``model_shape`` as the checkpoint's
    state.json holds them (``config``, ``extra``)."""
    model = config.get("model") or {}
    name = model.get("model")
    if model_shape.get("head") != "step":
        return "no per-step read-out (not a language model)"
    if not model_shape.get("vocabulary_size"):
        return "no embedding"
    if name not in MODELS:
        return f"variant {name!r}"
    if model.get("bidirectional"):
        return "a bidirectional layer"
    if model.get("norm"):
        return f"{model['norm']} normalisation"
    if model.get("zoneout"):
        return "zoneout (whose expectation acts in eval mode)"
    return None


class NumpyLanguageModel:
    """The weights of a language-model checkpoint and its step, in NumPy float32.

    ``weights``: the model's state_dict as arrays (names without ``model.``);
    ``model``: the checkpoint's ModelConfig as a dict."""

    def __init__(self, weights: dict[str, np.ndarray], model: dict) -> None:
        self.kind = model["model"]
        self.layers = int(model["layers"])
        reset_after = model.get("reset_after")
        self.reset_after = DEFAULT_RESET_AFTER if reset_after is None else bool(reset_after)
        self.gru_flags = gru_family_flags("gru", self.reset_after)

        def weight(name: str) -> np.ndarray:
            if name not in weights:
                raise ValueError(f"weights: no {name!r} for a {self.kind} language model")
            return np.ascontiguousarray(weights[name], dtype=np.float32)

        self.embedding = weight("embedding.weight")
        self.readout_weight = weight("readout.weight")
        self.readout_bias = weight("readout.bias")
        self.weight_ih = [weight(f"recurrent.weight_ih_l{k}") for k in range(self.layers)]
        self.weight_hh = [weight(f"recurrent.weight_hh_l{k}") for k in range(self.layers)]
        self.bias_ih = [weight(f"recurrent.bias_ih_l{k}") for k in range(self.layers)]
        hh_bias = self.kind != "gru" or self.reset_after
        self.bias_hh = [
            weight(f"recurrent.bias_hh_l{k}") if hh_bias else None for k in range(self.layers)
        ]
        self.hidden = self.weight_hh[0].shape[1]
        rows = GATES[self.kind] * self.hidden
        for k in range(self.layers):
            if self.weight_hh[k].shape != (rows, self.hidden):
                raise ValueError(
                    f"weights: recurrent.weight_hh_l{k} is {self.weight_hh[k].shape}, wanted "
                    f"({rows}, {self.hidden}) for a {self.kind} layer"
                )
        self.vocabulary_size = self.readout_weight.shape[0]

    def step(self, token: int, state: State | None = None) -> tuple[np.ndarray, State]:
        """Read one token id from ``state`` (None: zeros): (logits (V,) float32, the new
        state)."""
        x = self.embedding[token]
        new_state = []
        for k in range(self.layers):
            if state is None:
                zeros = np.zeros(self.hidden, np.float32)
                previous = (zeros, zeros) if self.kind == "lstm" else zeros
            else:
                previous = state[k]
            layer_state = self._layer_step(k, x, previous)
            new_state.append(layer_state)
            x = layer_state[0] if self.kind == "lstm" else layer_state
        return self.readout_weight @ x + self.readout_bias, new_state

    def _layer_step(self, k: int, x: np.ndarray, previous):
        """One layer's new state from its input x and previous state (module docstring)."""
        H = self.hidden
        a = self.weight_ih[k] @ x + self.bias_ih[k]
        if self.kind == "lstm":
            h, c = previous
            gates = a + self.weight_hh[k] @ h + self.bias_hh[k]
            i, f, o = sigmoid(gates[:H]), sigmoid(gates[H : 2 * H]), sigmoid(gates[3 * H :])
            c = f * c + i * np.tanh(gates[2 * H : 3 * H])
            return o * np.tanh(c), c
        h = previous
        if self.kind == "rnn":
            return np.tanh(a + self.weight_hh[k] @ h + self.bias_hh[k])
        params = {"weight_hh": self.weight_hh[k], "bias_hh": self.bias_hh[k]}
        return gated_step(a[None], h[None], params, **self.gru_flags)[0]  # batch of one

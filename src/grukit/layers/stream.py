"""Streaming inference: one time step (or a chunk) at a time, the state carried between
calls, at low latency for batch 1."""

from __future__ import annotations

import torch
from torch import Tensor

from grukit.cells.ligru import NORM_EPS
from grukit.layers.checks import check_tensor


class Stream:
    """Feed a unidirectional ``grukit.GRU`` one step at a time; ``layer.stream()`` makes one.

    >>> stream = layer.stream(batch_size=1)
    >>> for x_t in frames:          # x_t (B, I), or (I,) when batch_size is None
    ...     y_t = stream(x_t)       # (B, H): the last layer's state after this step
    >>> chunk_out = stream.chunk(x)  # x (T, B, I) -> (T, B, H), same state carried

    The stream computes what the layer computes in eval mode (to float rounding) on the
    concatenated steps (no dropout of any kind; zoneout as its expectation, ``h_t = p
    h_{t-1} + (1-p) h~_t``; ``ligru`` batch norm with its running statistics, folded into
    the input weights). It holds a snapshot of the weights taken when it was
    made: make a new one after training. ``state`` is (num_layers, B, H); ``reset()``
    zeroes it.

    With the fused backend each layer's step is one C++ call (input matrix-vector
    product, recurrent one and the gates); otherwise it runs the reference step.
    """

    def __init__(self, layer, batch_size: int | None = 1, hx: Tensor | None = None) -> None:
        if layer.bidirectional:
            raise ValueError(
                "layer: got a bidirectional GRU, wanted a unidirectional one: the reverse "
                "direction needs the whole sequence before its first output"
            )
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
        ):
            raise TypeError(
                f"batch_size: got {batch_size!r} ({type(batch_size).__name__}), wanted an int "
                f">= 1, or None for unbatched steps"
            )
        layer.check_tensors()  # the one-step kernel reads them by these shapes
        weight = layer.weight_ih_l0
        self.layer = layer
        self.batched = batch_size is not None
        self.batch_size = batch_size if batch_size is not None else 1
        self._step_shape = (
            (self.batch_size, layer.input_size) if self.batched else (layer.input_size,)
        )
        self._weight = weight
        self._zoneout = layer.zoneout
        choice = layer.backend_choice()
        # The fused one-step kernel has no layer norm and runs float32/float64: other cells
        # step in PyTorch.
        fused_step = (
            choice.name == "fused"
            and not layer.spec.norm_recurrent
            and weight.dtype in (torch.float32, torch.float64)
        )
        self.backend = "fused" if fused_step else "reference"
        self._extension = None
        if self.backend == "fused":
            from grukit.kernels.cpu.build import load_extension

            self._extension = load_extension()
        with torch.no_grad():
            self._layers = [self._prepare(k) for k in range(layer.num_layers)]
        self.reset(hx)

    def _prepare(self, k: int) -> dict:
        """Kernel-ready weights of layer k: transposed, biases folded, norm folded."""
        layer = self.layer
        spec = layer.spec
        # Copies: the stream must not follow later in-place updates of the layer.
        params = {role: t.detach().clone() for role, t in layer.cell_params(k).items()}
        if self.backend == "fused":
            from grukit.kernels.cpu.fused import fold_gate_biases

            params = fold_gate_biases(spec, params)
        prepared = {"params": params}
        if self.backend != "fused":
            return prepared
        from grukit.kernels.cpu import fused

        H = layer.hidden_size
        weight_ih, bias_i = params["weight_ih"], params.get("bias_ih")
        weight_hh = params.get("weight_hh")
        kind, reset_after, read_state = fused.kernel_flags(spec)
        bias_hn = fused.candidate_bias(spec, params, H)
        if spec.norm == "batch":  # gamma (a - mu) / sigma + beta, with a = W x: fold into W, b
            scale = params["norm_weight"] * torch.rsqrt(params["norm_running_var"] + NORM_EPS)
            weight_ih = weight_ih * scale[:, None]
            bias_i = -params["norm_running_mean"] * scale
            if "norm_bias" in params:
                bias_i = bias_i + params["norm_bias"]
        if kind == fused.KIND_GATED:
            # The kernel's gi is [r, z, n] with the recurrent-side gate biases folded in.
            base = bias_i if bias_i is not None else weight_ih.new_zeros(weight_ih.shape[0])
            bias_i = fused.canonical_gated_input(spec, base[None, None], params, H)[0, 0]
            if spec.input_gates != "rzn":  # gates read no input: zero input rows for r, z
                weight_ih = torch.cat([weight_ih.new_zeros(2 * H, weight_ih.shape[1]), weight_ih])
        direct = spec.norm != "layer"  # layer norm is not linear: project in Python
        prepared.update(
            kind=kind,
            reset_after=reset_after,
            read_state=read_state,
            wih_t=weight_ih.t().contiguous() if direct else None,
            bias_i=bias_i.contiguous() if (direct and bias_i is not None) else None,
            whh_t=None if weight_hh is None else weight_hh.t().contiguous(),
            bias_hn=bias_hn,
            width=weight_ih.shape[0],
        )
        return prepared

    def reset(self, hx: Tensor | None = None) -> None:
        """Start again from hx (num_layers, B, H) or zeros."""
        layer = self.layer
        shape = (layer.num_layers, self.batch_size, layer.hidden_size)
        if hx is None:
            self._states = list(self._weight.new_zeros(shape).unbind(0))
            return
        wanted = f"(num_layers={shape[0]}, B={shape[1]}, H={shape[2]})"
        self._check("hx", hx, shape, wanted)
        self._states = list(hx.detach().clone().unbind(0))

    def __call__(self, x_t: Tensor) -> Tensor:
        """One step: x_t (B, I) (or (I,) without batch) -> the last layer's new state."""
        if (
            not isinstance(x_t, Tensor)
            or x_t.shape != self._step_shape
            or x_t.dtype != self._weight.dtype
            or x_t.device != self._weight.device
        ):
            self._reject(x_t)
        x = x_t if self.batched else x_t.unsqueeze(0)
        states = self._states
        for k, prepared in enumerate(self._layers):
            x = self._step(prepared, x, states[k])
            if self._zoneout:
                x = x + self._zoneout * (states[k] - x)
            states[k] = x
        return x if self.batched else x.squeeze(0)

    @property
    def state(self) -> Tensor:
        """(num_layers, B, H): every layer's state after the last step."""
        return torch.stack(self._states)

    def _reject(self, x_t: object) -> None:
        """Raise the error that says what is wrong with a step's input."""
        I, B = self.layer.input_size, self.batch_size
        if self.batched:
            self._check("x_t", x_t, (B, I), f"(B={B}, I={I})")
        else:
            self._check("x_t", x_t, (I,), f"(I={I},)")

    def _check(self, name: str, value: object, shape: tuple[int, ...], wanted: str) -> None:
        weight = self._weight
        check_tensor(
            name, value, shapes=[shape], wanted=wanted, dtype=weight.dtype, device=weight.device
        )

    @torch.no_grad()
    def chunk(self, x: Tensor) -> Tensor:
        """Several steps: x (T, B, I) (or (T, I)) -> outputs (T, B, H), state carried."""
        if not isinstance(x, Tensor) or x.dim() != len(self._step_shape) + 1 or len(x) == 0:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            step = ", ".join(["T>=1", *map(str, self._step_shape)])
            raise ValueError(f"x: got {shape}, wanted ({step}): at least one step")
        return torch.stack([self(x_t) for x_t in x.unbind(0)])

    def _step(self, prepared: dict, x: Tensor, h: Tensor) -> Tensor:
        spec, params = self.layer.spec, prepared["params"]
        if self.backend != "fused":
            with torch.no_grad():
                gi = spec.project_input(x.unsqueeze(0), params, None, False)[0]
                return spec.step(gi, h, params)
        if prepared["wih_t"] is None:  # layer norm: project in Python, recurrence fused
            x = spec.project_input(x.unsqueeze(0), params, None, False)[0]
        return self._extension.stream_step(
            x,
            h,
            prepared["wih_t"],
            prepared["bias_i"],
            prepared["whh_t"],
            prepared["bias_hn"],
            prepared["kind"],
            prepared["reset_after"],
            prepared["read_state"],
            prepared["width"],
        )

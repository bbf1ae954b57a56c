"""``grukit.GRU``: every variant behind torch.nn.GRU's interface."""

from __future__ import annotations

import os
import warnings

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from grukit.cells import CellSpec, Params, cell_spec
from grukit.kernels import BackendChoice, choose_backend, run_sequence
from grukit.kernels.dispatch import check_backend, check_precision
from grukit.layers.cell_tensors import (
    check_cell_tensors,
    gather_cell_tensors,
    register_cell_tensors,
)
from grukit.layers.checks import (
    check_bool,
    check_dropout,
    check_init,
    check_lengths,
    check_probability,
    check_real_dtype,
    check_size,
    check_tensor,
)
from grukit.layers.dropout import check_dropout_mode, sequence_dropout
from grukit.layers.stream import Stream


class GRU(nn.Module):
    r"""A multi-layer gated recurrent unit of any variant, a drop-in for torch.nn.GRU.

    For each layer k, direction d and time step t (equations of each variant:
    ``grukit.cells``; ``variant="gru"`` is torch.nn.GRU's)::

        h_t = cell(x_t, h_{t-1})

    The input of layer k >= 1 is the output of layer k - 1 (both directions concatenated),
    with dropout between layers while training, as in torch.nn.GRU.

    Args:
        input_size: I, features of the input.
        hidden_size: H, units of the state.
        num_layers: stacked layers.
        bias: whether the cell has its biases (for ``ligru``: the batch-norm shift).
        batch_first: input and output are (B, T, *) instead of (T, B, *); h_n is not.
        dropout: probability of zeroing outputs of every layer but the last, in training.
        bidirectional: add a reverse direction, starting at each sequence's own last step.
        variant: one of ``grukit.VARIANTS``.
        reset_after: for the reset-gated variants, True (default, torch's form) or False
            (Cho et al. 2014); None means the variant's default.
        norm: for ``ligru``: "batch" (default) or "layer".
        init: "default" (torch.nn.GRU's U(-1/sqrt(H), 1/sqrt(H)) for every tensor) or
            "chrono" (Tallec & Ollivier 2018): the update gate's bias then starts at
            ±log(U(1, t_max - 1)) so that units hold their state over 2..t_max steps
            (``CellSpec.chrono_initialise``). Every variant but gru2 (no gate bias).
        t_max: with init="chrono", the longest span in steps to be remembered (> 2).
        backend: "auto" or a name from ``grukit.kernels.BACKENDS``.
        precision: the fused kernels' GEMMs. "auto" (default): bfloat16 operands summed in
            float32 under ``torch.autocast("cpu", dtype=torch.bfloat16)`` or with bfloat16
            parameters, where the CPU has AVX512-BF16, else float32 (``explain()`` says
            which and why); "bf16": always
            bfloat16 operands (an error where the CPU cannot); "fp32": never. State, gates,
            gradients and the output stay float32 (the output is bfloat16 for bfloat16
            parameters); float32 parameters remain the master weights.

    Regularisers (all off by default; none acts in eval mode but zoneout's expectation):
        input_dropout: dropout on the first layer's input, p.
        dropout_mode: "step" (torch's: a new mask at every step) or "locked" (one mask
            per sequence, shared by all its steps: AWD-LSTM's LockedDropout, Merity et al.
            2017), for ``dropout`` and ``input_dropout``.
        recurrent_dropout: variational dropout on the state the recurrent matmuls read,
            ``W_h (m (.) h_{t-1})`` with m ~ Bernoulli(1-p) / (1-p) drawn once per
            sequence, layer and direction (Gal & Ghahramani 2016; Keras's
            ``recurrent_dropout``); the update still reads h_{t-1} itself.
        zoneout: in training each unit keeps its previous value with probability p at
            each step, ``h_t = k (.) h_{t-1} + (1-k) (.) h~_t``, k ~ Bernoulli(p) (Krueger
            et al. 2017); in eval mode ``h_t = p h_{t-1} + (1-p) h~_t``.
        weight_dropout: DropConnect on the recurrent weight matrices, one mask per
            forward call, layer and direction, scaled by 1/(1-p) (Merity et al. 2017's
            weight drop).
        Not ``recurrent_dropout`` or ``weight_dropout`` for ``mingru``: it has no
        recurrent matrix. Padding is never read, so no mask lets it reach an output.
        Every backend runs them all, the fused kernels inside their time loop.

    Shapes (D = 2 if bidirectional else 1, L = num_layers):
        - input: (T, B, I), (B, T, I) with batch_first, unbatched (T, I), or a
          PackedSequence.
        - hx: (L*D, B, H), or (L*D, H) for unbatched input; zeros when None.
        - lengths: (B,) ints in 1..T, optional; not with a PackedSequence.
        - output: (T, B, D*H) (batch_first: (B, T, D*H)); zero at t >= lengths[b]; a
          PackedSequence when the input is one.
        - h_n: (L*D, B, H), each sequence's state after its own last step.

    Parameters carry torch.nn.GRU's names (``weight_ih_l{k}``, ``..._reverse``), so a
    torch.nn.GRU state_dict loads into ``GRU(variant="gru")`` unchanged, and back.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        variant: str = "gru",
        reset_after: bool | None = None,
        norm: str | None = None,
        init: str = "default",
        t_max: float | None = None,
        backend: str = "auto",
        precision: str = "auto",
        input_dropout: float = 0.0,
        dropout_mode: str = "step",
        recurrent_dropout: float = 0.0,
        zoneout: float = 0.0,
        weight_dropout: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.input_size = check_size("input_size", input_size)
        self.hidden_size = check_size("hidden_size", hidden_size)
        self.num_layers = check_size("num_layers", num_layers)
        self.bias = check_bool("bias", bias)
        self.batch_first = check_bool("batch_first", batch_first)
        self.dropout = check_dropout(dropout)
        self.bidirectional = check_bool("bidirectional", bidirectional)
        self.spec: CellSpec = cell_spec(variant, reset_after, norm)
        self.init, self.t_max = check_init(init, t_max)
        self.backend = check_backend(backend)
        self.precision = check_precision(precision)
        self.input_dropout = check_dropout(input_dropout, "input_dropout")
        self.dropout_mode = check_dropout_mode(dropout_mode)
        self.recurrent_dropout = check_probability("recurrent_dropout", recurrent_dropout)
        self.zoneout = check_probability("zoneout", zoneout)
        self.weight_dropout = check_probability("weight_dropout", weight_dropout)
        if self.spec.name == "mingru":
            for name in ("recurrent_dropout", "weight_dropout"):
                if getattr(self, name):
                    raise ValueError(
                        f"{name}: got {getattr(self, name)} for variant 'mingru', which has no "
                        "recurrent matrix (its gates do not read h); wanted 0"
                    )
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn(
                f"dropout={self.dropout} has no effect with num_layers=1: it acts between "
                f"stacked layers",
                stacklevel=2,
            )
        check_real_dtype(dtype)
        factory_kwargs = {"device": device, "dtype": dtype}
        self._check_fits_in_memory(factory_kwargs)
        # _tensor_names[layer][direction]: role -> attribute name
        self._tensor_names: list[list[dict[str, str]]] = [
            [
                register_cell_tensors(
                    self,
                    self.spec,
                    self.layer_input_size(layer),
                    self.hidden_size,
                    self.bias,
                    f"_l{layer}" + ("_reverse" if direction else ""),
                    factory_kwargs,
                )
                for direction in range(self.num_directions)
            ]
            for layer in range(self.num_layers)
        ]
        self.reset_parameters()

    @property
    def variant(self) -> str:
        return self.spec.name

    @property
    def reset_after(self) -> bool | None:
        return self.spec.reset_after

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def layer_input_size(self, layer: int) -> int:
        """Features layer ``layer`` reads: the input's, then every direction's states."""
        return self.input_size if layer == 0 else self.hidden_size * self.num_directions

    def _check_fits_in_memory(self, factory_kwargs: dict) -> None:
        """ValueError before allocating parameters that could not fit in this machine's
        memory (a typo such as hidden_size=1000000 asks for terabytes: allocating it ends
        in an allocator error or the kernel's OOM killer)."""
        device = torch.device(factory_kwargs["device"] or "cpu")
        if device.type != "cpu":
            return
        count = self.num_directions * sum(
            self.spec.num_parameters(self.layer_input_size(layer), self.hidden_size, self.bias)
            for layer in range(self.num_layers)
        )
        dtype = factory_kwargs["dtype"] or torch.get_default_dtype()
        needed = count * dtype.itemsize
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        if needed > available:
            raise ValueError(
                f"hidden_size={self.hidden_size}: {count:,} parameters would need "
                f"{format_bytes(needed)} for the weights alone (training needs several times "
                f"that), more than this machine's {format_bytes(available)} of memory"
            )

    def check_tensors(self) -> None:
        """Raise ValueError naming any parameter or buffer whose shape, dtype or device
        differs from what the layer was built with (replaced by hand)."""
        for layer, names in enumerate(self._tensor_names):
            for direction_names in names:
                check_cell_tensors(
                    self,
                    self.spec,
                    self.layer_input_size(layer),
                    self.hidden_size,
                    self.bias,
                    direction_names,
                    self.weight_ih_l0,
                )

    def cell_params(self, layer: int, direction: int = 0) -> Params:
        """Tensors of one layer and direction by role (``"weight_ih"``, ...)."""
        return gather_cell_tensors(self, self._tensor_names[layer][direction])

    def reset_parameters(self) -> None:
        """Re-initialise every layer and direction as its variant prescribes."""
        for names in self._tensor_names:
            for direction_names in names:
                self.spec.reset_parameters(
                    gather_cell_tensors(self, direction_names), self.hidden_size, self.t_max
                )

    def flatten_parameters(self) -> None:
        """No-op, so code written for torch.nn.GRU (which calls it for cuDNN) runs unchanged."""

    def stream(self, batch_size: int | None = 1, hx: Tensor | None = None) -> Stream:
        """A :class:`~grukit.layers.stream.Stream` feeding this layer one step at a time."""
        return Stream(self, batch_size, hx)

    def backend_choice(self, input: Tensor | None = None) -> BackendChoice:
        """The backend that runs ``input`` (by default: input like the parameters) in the
        current autocast state, and why."""
        like = self.weight_ih_l0 if input is None else input
        return choose_backend(self.backend, like.device, like.dtype, self.precision)

    def regulariser_settings(self) -> list[str]:
        """The regularisers set beyond torch.nn.GRU's options, as "name=value"."""
        settings = [
            f"{name}={getattr(self, name)}"
            for name in ("input_dropout", "recurrent_dropout", "zoneout", "weight_dropout")
            if getattr(self, name)
        ]
        if self.dropout_mode != "step":
            settings.append(f"dropout_mode={self.dropout_mode!r}")
        return settings

    def beyond_plain_gru(self) -> list[str]:
        """The options that change what the layer computes beyond torch.nn.GRU's equations
        in eval mode (zoneout, layer norm) or in training (the other regularisers)."""
        norm = [f"norm={self.spec.norm!r}"] if self.spec.norm is not None else []
        return norm + self.regulariser_settings()

    def explain(self) -> str:
        """Which variant, which equations, which backend and why, in a few lines."""
        choice = self.backend_choice()
        dropout = [f"dropout={self.dropout}"] if self.dropout else []
        regularisers = dropout + self.regulariser_settings()
        mode = "training" if self.training else "eval"
        return (
            f"cell: {self.spec.options_repr()}\nequations: {self.spec.equations}\n"
            + (f"regularisers: {', '.join(regularisers)}\n" if regularisers else "")
            + f"backend: {choice.name} ({choice.reason}) in {mode} mode"
        )

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        text += f", {self.spec.options_repr()}"
        text += "".join(f", {setting}" for setting in self.regulariser_settings())
        if self.init != "default":
            text += f", init={self.init!r}, t_max={self.t_max:g}"
        if self.backend != "auto":
            text += f", backend={self.backend!r}"
        if self.precision != "auto":
            text += f", precision={self.precision!r}"
        return text

    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: Tensor | None = None,
        lengths: Tensor | list[int] | None = None,
    ) -> tuple[Tensor | PackedSequence, Tensor]:
        """Run the layers over ``input``; see the class docstring for shapes."""
        x, lengths, batched = self._time_major(input, lengths)
        h0 = self._initial_state(hx, x.shape[1], batched)
        output, h_n = self._run_layers(x, h0, lengths)
        if isinstance(input, PackedSequence):
            output = _pack_like(output, lengths, input)
        elif not batched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, h_n

    def _time_major(
        self, input: Tensor | PackedSequence, lengths: object
    ) -> tuple[Tensor, Tensor | None, bool]:
        """Check the input and lengths; return x (T, B, I), lengths (B,) or None, batched."""
        weight = self.weight_ih_l0
        I = self.input_size
        if isinstance(input, PackedSequence):
            if lengths is not None:
                raise ValueError(
                    "lengths: got a value together with a PackedSequence, which carries its "
                    "own lengths; wanted None"
                )
            check_tensor(
                "input",
                input.data,
                shapes=[(-1, I)],
                wanted=f"packed data (N, I={I})",
                dtype=weight.dtype,
                device=weight.device,
            )
            x, packed_lengths = pad_packed_sequence(input)  # original batch order
            return x, packed_lengths.to(weight.device), True

        layout = f"(B, T, I={I})" if self.batch_first else f"(T, B, I={I})"
        check_tensor(
            "input",
            input,
            shapes=[(-1, -1, I), (-1, I)],
            wanted=f"{layout} or unbatched (T, I={I})",
            dtype=weight.dtype,
            device=weight.device,
        )
        batched = input.dim() == 3
        if not batched:
            x = input.unsqueeze(1)
            if isinstance(lengths, Tensor) and lengths.dim() == 0:
                lengths = lengths.reshape(1)
        else:
            x = input.transpose(0, 1) if self.batch_first else input
        if lengths is not None:
            lengths = check_lengths(lengths, x.shape[1], x.shape[0], weight.device)
        return x, lengths, batched

    def _initial_state(self, hx: Tensor | None, batch_size: int, batched: bool) -> Tensor:
        """Check hx; return h0 (L*D, B, H), zeros when hx is None."""
        weight = self.weight_ih_l0
        rows, H = self.num_layers * self.num_directions, self.hidden_size
        if hx is None:
            return weight.new_zeros(rows, batch_size, H)
        shape = (rows, batch_size, H) if batched else (rows, H)
        batch = f"B={batch_size}, " if batched else ""
        wanted = f"(num_layers*num_directions={rows}, {batch}H={H})"
        check_tensor(
            "hx", hx, shapes=[shape], wanted=wanted, dtype=weight.dtype, device=weight.device
        )
        return hx if batched else hx.unsqueeze(1)

    def _run_layers(self, x: Tensor, h0: Tensor, lengths: Tensor | None) -> tuple[Tensor, Tensor]:
        """x (T, B, I), h0 (L*D, B, H) -> output (T, B, D*H), h_n (L*D, B, H)."""
        backend = self.backend_choice(x)
        dtype = x.dtype
        # The fused kernels keep state and gates in float32: bfloat16 parameters run as
        # float32 copies (small; autograd brings their gradients back in bfloat16), and the
        # results go back to bfloat16.
        cast = torch.float32 if backend.name == "fused" and dtype == torch.bfloat16 else None
        if cast is not None:
            x, h0 = x.to(cast), h0.to(cast)
        final_states = []
        layer_input = x
        if self.input_dropout and self.training:
            layer_input = self._dropout(layer_input, self.input_dropout)
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                output, h_last = run_sequence(
                    self.spec,
                    layer_input,
                    h0[layer * self.num_directions + direction],
                    self._regularised(self._cast_params(layer, direction, cast), x.shape[:2]),
                    lengths,
                    reverse=direction == 1,
                    training=self.training,
                    kernels=backend.kernels,
                )
                outputs.append(output)
                final_states.append(h_last)
            layer_input = torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = self._dropout(layer_input, self.dropout)
        return layer_input.to(dtype), torch.stack(final_states).to(dtype)

    def _cast_params(self, layer: int, direction: int, cast: torch.dtype | None) -> Params:
        """A layer and direction's params, floating tensors cast to ``cast`` when given."""
        params = self.cell_params(layer, direction)
        if cast is None:
            return params
        return {
            role: value.to(cast)
            if isinstance(value, Tensor) and value.is_floating_point()
            else value
            for role, value in params.items()
        }

    def _dropout(self, x: Tensor, p: float) -> Tensor:
        """Dropout on a layer's input x (T, B, F) in ``dropout_mode`` (a mask per step, or
        one per sequence), scaled by 1/(1-p)."""
        return sequence_dropout(x, p, self.dropout_mode)

    def _regularised(self, params: Params, steps_batch: tuple[int, int]) -> Params:
        """One layer and direction's params with this forward pass's masks (see the class
        docstring), drawn in a fixed order: weight, recurrent, zoneout."""
        training = self.training
        if not (self.zoneout or training and (self.weight_dropout or self.recurrent_dropout)):
            return params
        params = dict(params)
        steps, batch = steps_batch
        weight = params["weight_ih"]
        if training and self.weight_dropout:
            params["weight_hh"] = nn.functional.dropout(
                params["weight_hh"], self.weight_dropout, training=True
            )
        if training and self.recurrent_dropout:
            keep = 1 - self.recurrent_dropout
            mask = weight.new_empty(batch, self.hidden_size).bernoulli_(keep)
            params["recurrent_mask"] = mask / keep
        if self.zoneout and training:
            # rand < p: the same draws as bernoulli_(p) would make in distribution, at 60%
            # of its time, which matters here: T x B x H draws per forward pass.
            draws = torch.rand(steps, batch, self.hidden_size, device=weight.device)
            params["zoneout"] = (draws < self.zoneout).to(weight.dtype)
        elif self.zoneout:
            params["zoneout"] = self.zoneout
        return params

    @classmethod
    def from_torch(cls, module: nn.GRU, *, backend: str = "auto") -> GRU:
        """A ``variant="gru"`` layer with exactly ``module``'s configuration and weights."""
        if not isinstance(module, nn.GRU):
            raise TypeError(f"module: got {type(module).__name__}, wanted a torch.nn.GRU")
        weight = module.weight_ih_l0
        layer = cls(
            module.input_size,
            module.hidden_size,
            module.num_layers,
            module.bias,
            module.batch_first,
            float(module.dropout),
            module.bidirectional,
            variant="gru",
            backend=backend,
            device=weight.device,
            dtype=weight.dtype,
        )
        layer.load_state_dict(module.state_dict())
        return layer.train(module.training)

    def to_torch(self) -> nn.GRU:
        """The torch.nn.GRU with exactly this layer's configuration and weights.

        Only ``variant="gru"`` with ``reset_after=True`` is a torch.nn.GRU.
        """
        if self.spec.name != "gru" or not self.spec.reset_after:
            raise ValueError(
                f"variant: got {self.spec.name!r} (reset_after={self.spec.reset_after}), "
                f"wanted 'gru' with reset_after=True, the only form torch.nn.GRU computes"
            )
        extras = self.beyond_plain_gru()
        if extras:
            raise ValueError(
                f"layer: has {', '.join(extras)}, which torch.nn.GRU does not compute (it "
                "would silently give other outputs); wanted a plain layer"
            )
        weight = self.weight_ih_l0
        module = nn.GRU(
            self.input_size,
            self.hidden_size,
            self.num_layers,
            bias=self.bias,
            batch_first=self.batch_first,
            dropout=self.dropout,
            bidirectional=self.bidirectional,
            device=weight.device,
            dtype=weight.dtype,
        )
        module.load_state_dict(self.state_dict())
        return module.train(self.training)


def _pack_like(output: Tensor, lengths: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack a padded (T, B, F) output with the same batch order and sizes as ``like``."""
    order = like.sorted_indices
    if order is not None:
        output, lengths = (
            output.index_select(1, order),
            lengths.index_select(0, order.to(lengths.device)),
        )
    packed = pack_padded_sequence(output, lengths.cpu(), enforce_sorted=True)
    return PackedSequence(packed.data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


def format_bytes(count: float) -> str:
    """``count`` bytes as a short figure in powers of 1000: 512 B, 25.3 GB, 12.0 TB."""
    if count < 1000:
        return f"{count:.0f} B"
    units = ["KB", "MB", "GB", "TB"]
    count /= 1000
    while count >= 1000 and len(units) > 1:
        count /= 1000
        units.pop(0)
    return f"{count:.1f} {units[0]}"

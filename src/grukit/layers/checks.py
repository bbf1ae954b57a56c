"""Argument checks shared by the layers: every message names the argument, what it got and
what it wanted. Nothing is silently broadcast, cast or truncated."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def check_size(name: str, value: object, minimum: int = 1) -> int:
    """A positive (or >= ``minimum``) whole number, such as hidden_size or num_layers."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: got {value!r} ({type(value).__name__}), wanted an int")
    if value < minimum:
        raise ValueError(f"{name}: got {value}, wanted an int >= {minimum}")
    return value


def check_bool(name: str, value: object) -> bool:
    """True or False, nothing else: ``batch_first="False"`` or ``bias=1`` would otherwise
    be read as true."""
    if not isinstance(value, bool):
        raise TypeError(f"{name}: got {value!r} ({type(value).__name__}), wanted True or False")
    return value


def check_real_dtype(dtype: object) -> None:
    """None (torch's default) or a floating-point torch.dtype: complex parameters ran and
    gave results with no meaning for a GRU's gates."""
    if dtype is not None and (not isinstance(dtype, torch.dtype) or not dtype.is_floating_point):
        raise TypeError(
            f"dtype: got {dtype}, wanted a floating-point torch.dtype (float32, float64, "
            f"bfloat16, float16)"
        )


def check_dropout(value: object, name: str = "dropout") -> float:
    """A probability in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: got {value!r}, wanted a float in [0, 1]")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: got {value}, wanted a float in [0, 1]")
    return float(value)


def check_probability(name: str, value: object) -> float:
    """A probability in [0, 1): a regulariser that divides by 1 - p, or keeps a unit with
    probability p, is undefined or frozen at 1."""
    p = check_dropout(value, name)
    if p == 1:
        raise ValueError(f"{name}: got 1.0, wanted a float in [0, 1)")
    return p


INITS = ("default", "chrono")


def check_init(init: object, t_max: object) -> tuple[str, float | None]:
    """``init`` is "default" (torch.nn.GRU's uniform) or "chrono", which needs ``t_max`` > 2,
    the longest dependency span in steps the gates should start out able to hold."""
    if init not in INITS:
        raise ValueError(f"init: got {init!r}, wanted one of {', '.join(INITS)}")
    if init == "default":
        if t_max is not None:
            raise ValueError(f"t_max: got {t_max!r} with init='default'; it is for init='chrono'")
        return "default", None
    if (
        isinstance(t_max, bool)
        or not isinstance(t_max, (int, float))
        or not 2 < t_max < float("inf")
    ):
        raise ValueError(f"t_max: got {t_max!r}, wanted a finite number > 2 with init='chrono'")
    return "chrono", float(t_max)


def check_tensor(
    name: str,
    value: object,
    *,
    shapes: Sequence[tuple[int, ...]],
    wanted: str,
    dtype: torch.dtype,
    device: torch.device,
) -> Tensor:
    """A floating tensor with one of ``shapes`` (-1 = any size >= 1), the given dtype and device.

    ``wanted`` spells the accepted shapes for the message, e.g. "(T, B, I=8) or (T, I=8)".
    """
    if not isinstance(value, Tensor):
        raise TypeError(
            f"{name}: got {type(value).__name__}, wanted a torch.Tensor of shape {wanted}"
        )
    got = tuple(value.shape)
    if not any(_shape_matches(got, shape) for shape in shapes):
        raise ValueError(f"{name}: got shape {got}, wanted {wanted}")
    if value.is_complex() or not dtype.is_floating_point:  # (a layer moved by .to(complex))
        raise TypeError(
            f"{name}: got dtype {value.dtype} for a layer of {dtype}, wanted floating-point "
            f"input and parameters (complex and integer ones have no meaning here)"
        )
    if value.dtype != dtype:
        raise TypeError(
            f"{name}: got dtype {value.dtype}, wanted {dtype} (the layer's parameter dtype; "
            f"convert the tensor or the layer with .to())"
        )
    if value.device != device:
        raise ValueError(
            f"{name}: got a tensor on {value.device}, wanted one on {device} (where the "
            f"layer's parameters are)"
        )
    return value


def _shape_matches(got: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    return len(got) == len(shape) and all(
        (want == -1 and size >= 1) or size == want for size, want in zip(got, shape)
    )


def check_lengths(lengths: object, batch_size: int, num_steps: int, device: torch.device) -> Tensor:
    """Sequence lengths as a (B,) int64 tensor on ``device``, each in 1..T.

    Accepts a tensor (integer, or floating with whole finite values), a list or a tuple.
    """
    if isinstance(lengths, (list, tuple)):
        try:
            lengths = torch.tensor(lengths)
        except (TypeError, ValueError, RuntimeError) as error:  # RuntimeError: a None inside
            raise TypeError(f"lengths: got {lengths!r}, wanted a 1-D sequence of ints") from error
    if not isinstance(lengths, Tensor):
        raise TypeError(
            f"lengths: got {type(lengths).__name__}, "
            f"wanted a 1-D int tensor or list of {batch_size} ints"
        )
    if lengths.dtype == torch.bool or lengths.is_complex():
        raise TypeError(f"lengths: got dtype {lengths.dtype}, wanted an integer dtype")
    if lengths.device.type == "meta":
        raise ValueError("lengths: got a tensor on the meta device, which holds no values")
    if tuple(lengths.shape) != (batch_size,):
        raise ValueError(
            f"lengths: got shape {tuple(lengths.shape)}, wanted ({batch_size},): one length "
            f"per sequence of the batch"
        )
    values = lengths.detach().cpu()
    if values.is_floating_point():
        if not bool(torch.isfinite(values).all()):
            raise ValueError(
                f"lengths: got non-finite values {values.tolist()}, wanted whole numbers"
            )
        if not bool((values == values.round()).all()):
            raise ValueError(
                f"lengths: got fractional values {values.tolist()}, wanted whole numbers"
            )
    values = values.long()
    out_of_range = ((values < 1) | (values > num_steps)).nonzero().flatten()
    if out_of_range.numel():
        index = int(out_of_range[0])
        raise ValueError(
            f"lengths: got {int(values[index])} at index {index}, wanted every length in "
            f"1..{num_steps} (the input's number of time steps)"
        )
    return values.to(device)

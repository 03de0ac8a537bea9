"""Reinterpreting a float's bits as an unsigned integer and back, inside compiled kernels.

numba has no scalar ``view``; these intrinsics are one LLVM ``bitcast`` each (free, and
vectorisable), for float32 <-> uint32 and float64 <-> uint64.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_UINT = {types.float32: types.uint32, types.float64: types.uint64}
_FLOAT = {
    types.uint32: (types.float32, ir.FloatType()),
    types.uint64: (types.float64, ir.DoubleType()),
}


def _bitcast(to: ir.Type):
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], to)

    return codegen


@intrinsic
def float_bits(typingctx, x):  # pragma: no cover - compiled
    """The bits of a float32 (float64) as uint32 (uint64)."""
    if x not in _UINT:
        return None
    return _UINT[x](x), _bitcast(ir.IntType(x.bitwidth))


@intrinsic
def bits_float(typingctx, b):  # pragma: no cover - compiled
    """The float32 (float64) whose bits are the uint32 (uint64) ``b``."""
    if b not in _FLOAT:
        return None
    to, llvm_type = _FLOAT[b]
    return to(b), _bitcast(llvm_type)

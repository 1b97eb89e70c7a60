"""Explicit 8-lane vectors of float32 or float64 for kernels whose lanes are a batch.

``vload``/``vstore`` move 8 consecutive elements of a C-contiguous array (at a flat index) to and
from one vector value, ``vsplat`` broadcasts a scalar, ``vfma`` is ``a * b + c`` fused. The vector
type follows the array's dtype: LLVM's ``<8 x float>`` is one AVX2 register, ``<8 x double>``
two, so one kernel source serves float32 (for use) and float64 (for tight tests).

Why not leave it to LLVM: its loop vectoriser keeps a running sum over short lane loops in
memory and gives each loop its own alias checks and remainder; see lanes.py for the measurement.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

VEC = 8  # lanes per vector


class Vec8(types.Type):
    """Eight lanes of ``dtype`` (float32 or float64) in one SSA value."""

    def __init__(self, dtype):
        self.dtype = dtype
        super().__init__(name=f"cwrnn_{dtype}x{VEC}")


_VECS = {types.float32: Vec8(types.float32), types.float64: Vec8(types.float64)}
_LLVM = {types.float32: ir.FloatType(), types.float64: ir.DoubleType()}


@register_model(Vec8)
class _Vec8Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, ir.VectorType(_LLVM[fe_type.dtype], VEC))


def _vec_of(arr):
    if isinstance(arr, types.Array) and arr.layout == "C" and arr.dtype in _VECS:
        return _VECS[arr.dtype]
    return None


def _pointer(context, builder, aty, arr, k):
    data = context.make_array(aty)(context, builder, arr).data
    lty = ir.VectorType(_LLVM[aty.dtype], VEC)
    return builder.bitcast(builder.gep(data, [k]), lty.as_pointer())


@intrinsic
def vload(typingctx, arr, k):
    """The 8 elements at flat index ``k`` of a C-contiguous float array, as one vector.

    No bounds check (as Numba's own indexing): callers' indices come from their shapes."""
    vt = _vec_of(arr)
    if vt is None or not isinstance(k, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        align = 4 if sig.args[0].dtype == types.float32 else 8
        return builder.load(_pointer(context, builder, sig.args[0], args[0], args[1]), align=align)

    return vt(arr, k), codegen


@intrinsic
def vstore(typingctx, arr, k, v):
    """Store vector ``v`` at flat index ``k`` of a C-contiguous float array of its dtype."""
    vt = _vec_of(arr)
    if vt is None or not isinstance(k, types.Integer) or v != vt:
        return None

    def codegen(context, builder, sig, args):
        align = 4 if sig.args[0].dtype == types.float32 else 8
        builder.store(args[2], _pointer(context, builder, sig.args[0], args[0], args[1]), align=align)
        return context.get_dummy_value()

    return types.void(arr, k, v), codegen


@intrinsic
def vsplat(typingctx, x, arr):
    """A vector of ``arr``'s dtype with every lane ``x``."""
    vt = _vec_of(arr)
    if vt is None or not isinstance(x, (types.Float, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        scalar = context.cast(builder, args[0], sig.args[0], vt.dtype)
        lty = ir.VectorType(_LLVM[vt.dtype], VEC)
        one = builder.insert_element(ir.Constant(lty, ir.Undefined), scalar, ir.Constant(ir.IntType(32), 0))
        zeros = ir.Constant(ir.VectorType(ir.IntType(32), VEC), [0] * VEC)
        return builder.shuffle_vector(one, ir.Constant(lty, ir.Undefined), zeros)

    return vt(x, arr), codegen


@intrinsic
def vfma(typingctx, a, b, c):
    """``a * b + c``, fused, lane by lane."""
    if not (isinstance(a, Vec8) and a == b == c):
        return None

    def codegen(context, builder, sig, args):
        lty = ir.VectorType(_LLVM[a.dtype], VEC)
        suffix = "v8f32" if a.dtype == types.float32 else "v8f64"
        fma = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(lty, [lty] * 3), f"llvm.fma.{suffix}"
        )
        return builder.call(fma, list(args))

    return a(a, b, c), codegen


# An 8 x 8 transpose in three rounds of two-vector shuffles (the AVX2 idiom: unpack, shuffle,
# 128-bit permute; LLVM lowers each mask to one instruction for float32).
_ROUND1 = ([0, 8, 1, 9, 4, 12, 5, 13], [2, 10, 3, 11, 6, 14, 7, 15])
_ROUND2 = ([0, 1, 8, 9, 4, 5, 12, 13], [2, 3, 10, 11, 6, 7, 14, 15])
_ROUND3 = ([0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15])


def _shuffle(builder, a, b, mask):
    return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(ir.IntType(32), VEC), mask))


def _transpose_ir(builder, rows):
    a = []
    for p in range(0, 8, 2):
        a += [_shuffle(builder, rows[p], rows[p + 1], m) for m in _ROUND1]
    b = [None] * 8
    for base in (0, 4):
        for half in (0, 1):  # a[base + half] with a[base + 2 + half]
            lo, hi = a[base + half], a[base + 2 + half]
            b[base + 2 * half] = _shuffle(builder, lo, hi, _ROUND2[0])
            b[base + 2 * half + 1] = _shuffle(builder, lo, hi, _ROUND2[1])
    out = [None] * 8
    for j in range(4):
        out[j] = _shuffle(builder, b[j], b[j + 4], _ROUND3[0])
        out[j + 4] = _shuffle(builder, b[j], b[j + 4], _ROUND3[1])
    return out


@intrinsic
def vtranspose8(typingctx, src, s0, ss, dst, d0, ds):
    """``dst[d0 + e ds + j] = src[s0 + j ss + e]`` for ``j, e < 8``: an 8 x 8 tile copied transposed
    between two C-contiguous arrays of one float dtype (flat indices, no bounds check)."""
    vt = _vec_of(src)
    if vt is None or _vec_of(dst) != vt:
        return None
    if not all(isinstance(a, types.Integer) for a in (s0, ss, d0, ds)):
        return None

    def codegen(context, builder, sig, args):
        sty, _, _, dty, _, _ = sig.args
        src_, s0_, ss_, dst_, d0_, ds_ = args
        align = 4 if vt.dtype == types.float32 else 8
        i64 = ir.IntType(64)
        s0_, ss_, d0_, ds_ = (builder.sext(v, i64) if v.type.width < 64 else v for v in (s0_, ss_, d0_, ds_))
        rows = []
        for j in range(VEC):
            k = builder.add(s0_, builder.mul(ss_, ir.Constant(i64, j)))
            rows.append(builder.load(_pointer(context, builder, sty, src_, k), align=align))
        for e, vec in enumerate(_transpose_ir(builder, rows)):
            k = builder.add(d0_, builder.mul(ds_, ir.Constant(i64, e)))
            builder.store(vec, _pointer(context, builder, dty, dst_, k), align=align)
        return context.get_dummy_value()

    return types.void(src, s0, ss, dst, d0, ds), codegen


def _binary(op_name, doc):
    def impl(typingctx, a, b):
        if not (isinstance(a, Vec8) and a == b):
            return None

        def codegen(context, builder, sig, args):
            return getattr(builder, op_name)(args[0], args[1])

        return a(a, b), codegen

    impl.__doc__ = doc
    return intrinsic(impl)


vadd = _binary("fadd", "``a + b``, lane by lane.")
vsub = _binary("fsub", "``a - b``, lane by lane.")
vmul = _binary("fmul", "``a * b``, lane by lane.")
vdiv = _binary("fdiv", "``a / b``, lane by lane.")


def _select(pred, doc):
    def impl(typingctx, a, b):
        if not (isinstance(a, Vec8) and a == b):
            return None

        def codegen(context, builder, sig, args):
            # unordered: true where a lane of a is NaN, so a NaN in a comes through (as the
            # scalar min/max in fast_tanh does), never the bound b
            return builder.select(builder.fcmp_unordered(pred, args[0], args[1]), args[0], args[1])

        return a(a, b), codegen

    impl.__doc__ = doc
    return intrinsic(impl)


vmin = _select("<", "``min(a, b)`` lane by lane; a NaN in ``a`` stays NaN.")
vmax = _select(">", "``max(a, b)`` lane by lane; a NaN in ``a`` stays NaN.")

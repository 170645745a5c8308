"""Random d x d matrices of the sketch, and the seeded bank that draws one per role (SPEC §2).

Every matrix of a sketch has a *role*: ``R_{M,0}, R_{M,1}, R_{M,2}`` for each module M (object
wrapper, attributes, frequency marker) and ``R_i`` for each tuple position i, shared across the
whole network. :class:`MatrixBank` draws the matrix of a role lazily from a seed derived from
``(seed, role)`` alone, so the same role gives the same matrix on every call, in every process,
whatever was drawn before. It caches matrices up to a byte budget and redraws evicted ones.

Families
--------
``haar``
    Uniform (Haar) random orthonormal: the QR factorisation of a Gaussian matrix with the signs
    of diag(R) folded into Q (without that correction the draw is not Haar). Dense, O(d^3) to
    draw, O(d^2) to store and apply.
``gaussian``
    I.i.d. N(0, 1/d) entries. Dense; not orthonormal (operator norm about 2), so the exact bound
    of Theorem 2(iii) does not apply to it.
``fast``
    A structured orthonormal matrix ``P C D_3 C D_2 C D_1`` (see :class:`FastOrthonormal`):
    three rounds of random signs and the orthonormal DCT-II, then a random permutation. O(d)
    memory, O(d log d) apply, exactly orthonormal; for d in the tens of thousands.
``block``
    The paper's sparse block-random distribution D(b, q, d) (its Algorithms 1 and 2). Columns
    have norm about 1 on average and are nearly orthogonal, but the matrix is singular (rank
    about 2d/3); code that solves with it must cope. d must be a multiple of b.

What is not checked: that a bank's cache budget fits in the machine's memory.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from .exceptions import BankMismatchError

__all__ = [
    "FAMILIES",
    "BankIdentity",
    "MatrixBank",
    "RandomMatrix",
    "DenseMatrix",
    "FastOrthonormal",
    "BlockMatrix",
    "haar",
    "gaussian",
    "fast_orthonormal",
    "block_matrix",
    "enc",
    "default_block_size",
    "nearest_block_dimension",
]

logger = logging.getLogger(__name__)

FAMILIES = ("haar", "gaussian", "fast", "block")


# ---------------------------------------------------------------------------- matrix types
class RandomMatrix:
    """A d x d matrix that can be applied to a batch of row vectors.

    Subclasses implement :meth:`apply` (``x -> R x`` for each row ``x`` of ``X``) and
    :meth:`apply_t` (``x -> R^T x``). Batches are ``(n, d)`` arrays, one vector per row; a
    single ``(d,)`` vector is accepted too.
    """

    d: int

    def apply(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def apply_t(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def nbytes(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_dense(self) -> np.ndarray:
        """The matrix as a dense ``(d, d)`` array (O(d^2) memory)."""
        return self.apply(np.eye(self.d)).T

    @property
    def shape(self) -> tuple[int, int]:
        return (self.d, self.d)


class DenseMatrix(RandomMatrix):
    """A dense matrix (families ``haar`` and ``gaussian``)."""

    def __init__(self, R: np.ndarray) -> None:
        self.R = R
        self.d = R.shape[0]

    def apply(self, X):
        return X @ self.R.T

    def apply_t(self, X):
        return X @ self.R

    @property
    def nbytes(self):
        return self.R.nbytes

    def to_dense(self):
        return self.R


class FastOrthonormal(RandomMatrix):
    """Structured random orthonormal matrix ``R = P C D_3 C D_2 C D_1``.

    ``R x = P(C D_3 C D_2 C D_1 x)``, with ``D_r`` diagonal random signs, ``C`` the orthonormal
    DCT-II and ``P`` a random permutation. Each factor is orthonormal, so R is exactly
    orthonormal; ``R^T`` applies the inverses in reverse order. Memory: three sign vectors and
    one permutation, O(d); apply: three DCTs, O(d log d) per vector.

    Notes
    -----
    The first sign flip D_1 makes every entry of R symmetric about zero, so E[R] = 0 as the
    estimators need. Three rounds are enough for the coordinates of R x to look Gaussian for
    the unit vectors used here; the matrix is not Haar distributed.
    """

    def __init__(self, signs: np.ndarray, perm: np.ndarray) -> None:
        self.signs = signs  # (3, d) of +-1
        self.perm = perm
        self.inv_perm = np.argsort(perm)
        self.d = perm.size

    def apply(self, X):
        Y = np.array(X, dtype=float)  # a private copy, transformed in place
        for s in self.signs:
            Y *= s
            Y = scipy.fft.dct(Y, type=2, norm="ortho", axis=-1, overwrite_x=True, workers=-1)
        return np.take(Y, self.perm, axis=-1)

    def apply_t(self, X):
        Y = np.take(np.asarray(X, dtype=float), self.inv_perm, axis=-1)
        for s in self.signs[::-1]:
            Y = scipy.fft.idct(Y, type=2, norm="ortho", axis=-1, overwrite_x=True, workers=-1)
            Y *= s
        return Y

    @property
    def nbytes(self):
        return self.signs.nbytes + self.perm.nbytes + self.inv_perm.nbytes


class BlockMatrix(RandomMatrix):
    """A sparse matrix from the paper's D(b, q, d), stored in CSR form."""

    def __init__(self, R: sp.csr_matrix, b: int, q: float, sigma_m: np.ndarray) -> None:
        self.R = R
        self.RT = R.T.tocsr()
        self.b = b
        self.q = q
        self.sigma_m = sigma_m
        self.d = R.shape[0]

    def apply(self, X):
        X = np.asarray(X, dtype=float)
        return (self.R @ X.T).T

    def apply_t(self, X):
        X = np.asarray(X, dtype=float)
        return (self.RT @ X.T).T

    @property
    def nbytes(self):
        return sum(
            a.nbytes for M in (self.R, self.RT) for a in (M.data, M.indices, M.indptr)
        )

    def to_dense(self):
        return self.R.toarray()


# ---------------------------------------------------------------------------- families
def _check_d(d) -> int:
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"d must be a positive integer; got {d!r}")
    return int(d)


def haar(d: int, rng: np.random.Generator) -> np.ndarray:
    """Draw a Haar-distributed random orthonormal ``(d, d)`` matrix.

    Notes
    -----
    With ``Z = Q R`` the QR factorisation of a matrix of i.i.d. standard normals, ``Q`` alone is
    not Haar: LAPACK's sign convention biases it. ``Q diag(sign(diag(R)))`` is Haar [1]_.

    References
    ----------
    .. [1] F. Mezzadri, "How to generate random matrices from the classical compact groups",
       Notices of the AMS 54 (2007).
    """
    d = _check_d(d)
    Z = rng.standard_normal((d, d))
    # small QRs run far faster on one BLAS thread (measured here: 256 x 256 took 9 ms on one
    # thread, 0.6 s on two threads of a busy 2-core machine); large ones gain from threads
    with threadpool_limits(limits=1 if d <= 1024 else None, user_api="blas"):
        Q, R = np.linalg.qr(Z)
    signs = np.sign(np.diag(R))
    signs[signs == 0] = 1.0
    return Q * signs


def gaussian(d: int, rng: np.random.Generator) -> np.ndarray:
    """Draw a ``(d, d)`` matrix of i.i.d. N(0, 1/d) entries (columns of norm about 1)."""
    d = _check_d(d)
    return rng.standard_normal((d, d)) / math.sqrt(d)


def fast_orthonormal(d: int, rng: np.random.Generator) -> FastOrthonormal:
    """Draw a :class:`FastOrthonormal` matrix: O(d) memory, O(d log d) apply."""
    d = _check_d(d)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(3, d))
    perm = rng.permutation(d)
    return FastOrthonormal(signs, perm)


def default_block_size(d: int, n_matrices: int = 2) -> int:
    """Smallest valid b: a multiple of 3 and >= 3 max(ceil(log2 N), ceil(log2 d) + 3).

    N is the number of matrices drawn from D(b, q, d). With the default N the bound from d
    decides, which allows up to 8 d matrices, far more than a bank draws.
    """
    d = _check_d(d)
    return 3 * max(math.ceil(math.log2(max(n_matrices, 2))), math.ceil(math.log2(d)) + 3)


def nearest_block_dimension(d: int) -> tuple[int, int]:
    """The valid dimension of the block family nearest to ``d`` (ties go down).

    Returns ``(d_valid, b)`` with ``b = default_block_size(d_valid)`` dividing ``d_valid``.
    """
    d = _check_d(d)
    for step in range(d + 1):
        for cand in (d - step, d + step):
            if cand >= 3 and cand % default_block_size(cand) == 0:
                return cand, default_block_size(cand)
    raise AssertionError("unreachable: some multiple of b exists near any d")


def enc(j: int, b_m: int, b_s: int, b: int, d: int, q: float) -> np.ndarray:
    """The paper's column signature Enc(j, b_m, b_s) (its Algorithm 1).

    Parameters
    ----------
    j : int
        Column index, 1-based (1..d) as in the paper.
    b_m, b_s : {-1, +1}
        The two sign bits.
    b, d, q : block size, dimension and block probability of D(b, q, d).

    Returns
    -------
    (b // 3,) ndarray
        ``[+1, bits of j-1 (most significant first, 0 -> -1, 1 -> +1), b_m, b_s, +1, ...]``
        divided by ``sqrt(d q)``. The paper leaves the bit order unstated; this library writes
        the most significant bit first.
    """
    n_bits = max(1, math.ceil(math.log2(d)))
    if not 1 <= j <= d:
        raise ValueError(f"column index j must be in 1..{d}; got {j}")
    if b // 3 < n_bits + 3:
        raise ValueError(f"b // 3 = {b // 3} is too short for Enc at d={d}; need {n_bits + 3}")
    bits = [(j - 1) >> (n_bits - 1 - t) & 1 for t in range(n_bits)]
    out = np.ones(b // 3)
    out[1 : 1 + n_bits] = np.where(np.array(bits) == 1, 1.0, -1.0)
    out[1 + n_bits] = b_m
    out[2 + n_bits] = b_s
    return out / math.sqrt(d * q)


def _enc_table(d: int, b: int) -> np.ndarray:
    """Enc of every column with both bits +1, unscaled: ``(d, b // 3)`` of +-1."""
    n_bits = max(1, math.ceil(math.log2(d)))
    j = np.arange(d)[:, None]
    shifts = np.arange(n_bits - 1, -1, -1)[None, :]
    bits = (j >> shifts) & 1
    table = np.ones((d, b // 3))
    table[:, 1 : 1 + n_bits] = np.where(bits == 1, 1.0, -1.0)
    return table


def _check_block_params(d: int, b: int, q: float) -> None:
    need = math.ceil(math.log2(d)) + 3
    if b < 3 or b % 3 or b // 3 < need:
        raise ValueError(
            f"block size b must be a multiple of 3 with b/3 >= ceil(log2 d) + 3 = {need}; "
            f"got b={b}"
        )
    if d % b:
        d_valid, b_valid = nearest_block_dimension(d)
        raise ValueError(
            f"the block family needs d to be a multiple of the block size b={b}; got d={d}. "
            f"Nearest valid choice: d={d_valid} with b={b_valid}"
        )
    if not (isinstance(q, (int, float)) and 0 < q <= 1):
        raise ValueError(f"block probability q must be in (0, 1]; got {q!r}")


def block_matrix(d: int, rng: np.random.Generator, b: int | None = None, q: float = 0.2):
    """Draw a matrix from the paper's block-random distribution D(b, q, d) (Algorithm 2).

    Parameters
    ----------
    d : int
        Dimension; a multiple of ``b``.
    rng : numpy.random.Generator
    b : int, optional
        Block size, a multiple of 3 with ``b // 3 >= ceil(log2 d) + 3``. Default: the smallest.
    q : float, default=0.2
        Probability that a block is non-zero.

    Returns
    -------
    BlockMatrix

    Notes
    -----
    Column j (1-based) is cut into d/b blocks of b rows. Block i is, with probability q,
    ``[f_s sigma_{s,j}; f_c Enc(j, f'_m, f'_s); f_m sigma_m]`` with Rademacher flips f_m, f_s,
    f_c, ``f'_m = f_m sign(sigma_m[1])``, ``f'_s = f_s sign(sigma_{s,j}[1])``, and zero
    otherwise; every entry is +-1/sqrt(d q). The paper's Algorithm 2 writes rows
    ``b(i-1)+1 : bi+1`` (b+1 rows); a block has b rows, as its text says.

    References
    ----------
    .. [1] Ghazi, Panigrahy, Wang, ICML 2019, section 4.3 and Algorithms 1-2.
    """
    d = _check_d(d)
    if b is None:
        b = default_block_size(d)
    _check_block_params(d, b, q)
    third, n_blocks = b // 3, d // b
    scale = 1.0 / math.sqrt(d * q)

    # signatures and coin flips (Algorithm 2, lines 4-12)
    sigma_m = rng.choice([-1.0, 1.0], size=third)
    sigma_s = rng.choice([-1.0, 1.0], size=(d, third))
    flips = rng.choice([-1.0, 1.0], size=(3, n_blocks, d))  # f_m, f_s, f_c
    eta = rng.random((n_blocks, d)) < q

    # assemble the non-zero blocks, one row of `data` per block
    i_idx, j_idx = np.nonzero(eta)
    f_m, f_s, f_c = (f[i_idx, j_idx] for f in flips)
    fp_m = f_m * np.sign(sigma_m[0])
    fp_s = f_s * np.sign(sigma_s[j_idx, 0])
    sigma_c = _enc_table(d, b)[j_idx]
    n_bits = max(1, math.ceil(math.log2(d)))
    sigma_c[:, 1 + n_bits] = fp_m
    sigma_c[:, 2 + n_bits] = fp_s
    data = np.concatenate(
        [f_s[:, None] * sigma_s[j_idx], f_c[:, None] * sigma_c, f_m[:, None] * sigma_m[None, :]],
        axis=1,
    ) * scale
    rows = (b * i_idx)[:, None] + np.arange(b)[None, :]
    cols = np.broadcast_to(j_idx[:, None], rows.shape)
    R = sp.csr_matrix((data.ravel(), (rows.ravel(), cols.ravel())), shape=(d, d))
    return BlockMatrix(R, b, q, sigma_m * scale)


# ---------------------------------------------------------------------------- the bank
@dataclass(frozen=True)
class BankIdentity:
    """What makes a matrix bank: family, dimension d, seed and family parameters.

    Two sketches can be compared or combined only if their identities are equal.
    """

    family: str
    d: int
    seed: int
    params: tuple = ()

    def check_same(self, other: "BankIdentity", what: str = "sketches") -> None:
        """Raise :class:`BankMismatchError` naming the first field in which ``other`` differs."""
        for field in ("family", "d", "seed", "params"):
            a, b = getattr(self, field), getattr(other, field)
            if a != b:
                raise BankMismatchError(
                    f"{what} come from different matrix banks: {field} {a!r} != {b!r}"
                )

    def as_dict(self) -> dict:
        return {"family": self.family, "d": self.d, "seed": self.seed, **dict(self.params)}


def _role_key(role: tuple) -> list[int]:
    """A stable integer key for a role (independent of Python's hash randomisation)."""
    digest = hashlib.blake2b(repr(role).encode("utf-8"), digest_size=16).digest()
    return [int.from_bytes(digest[k : k + 4], "little") for k in range(0, 16, 4)]


class MatrixBank:
    """Seeded source of the sketch's random matrices, one per role, drawn lazily.

    Parameters
    ----------
    d : int
        Sketch dimension.
    family : {"haar", "gaussian", "fast", "block"}, default="haar"
    seed : int, default=0
        Non-negative integer. It is stored with every sketch, so it must be an int rather than
        a Generator.
    max_dense_bytes : int, default=512 MiB
        Cache budget. Matrices are kept in least-recently-used order until their bytes exceed
        it; an evicted matrix is drawn again, identically, when next needed. A single matrix
        larger than the budget is used and not kept.
    b : int, optional
        Block size of the ``block`` family (default: the smallest valid one for d).
    q : float, default=0.2
        Block probability of the ``block`` family.

    Examples
    --------
    >>> bank = MatrixBank(64, "haar", seed=1)
    >>> R = bank.position(1)
    >>> bool(np.allclose(R.to_dense() @ R.to_dense().T, np.eye(64)))
    True
    >>> bool(np.array_equal(R.to_dense(), MatrixBank(64, "haar", seed=1).position(1).to_dense()))
    True
    """

    def __init__(
        self,
        d: int,
        family: str = "haar",
        seed: int = 0,
        *,
        max_dense_bytes: int = 512 * 2**20,
        b: int | None = None,
        q: float = 0.2,
    ) -> None:
        d = _check_d(d)
        if family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}; got {family!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise TypeError(f"seed must be a non-negative int; got {seed!r}")
        params: tuple = ()
        if family == "block":
            b = default_block_size(d) if b is None else int(b)
            _check_block_params(d, b, q)
            params = (("b", b), ("q", float(q)))
        self.identity = BankIdentity(family, d, int(seed), params)
        self.max_dense_bytes = int(max_dense_bytes)
        self._cache: OrderedDict[tuple, RandomMatrix] = OrderedDict()
        self._cached_bytes = 0
        self.draws = 0  # number of matrices drawn (for tests and benchmarks)

    @property
    def d(self) -> int:
        return self.identity.d

    @property
    def family(self) -> str:
        return self.identity.family

    @property
    def seed(self) -> int:
        return self.identity.seed

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v}" for k, v in self.identity.params)
        return f"MatrixBank(d={self.d}, family={self.family!r}, seed={self.seed}{extra})"

    @property
    def cached_bytes(self) -> int:
        """Bytes of the matrices held right now (never more than ``max_dense_bytes``)."""
        return self._cached_bytes

    # roles --------------------------------------------------------------------------
    def module(self, module: str, k: int) -> RandomMatrix:
        """``R_{M,k}``: k = 0 object wrapper, 1 attributes, 2 frequency marker."""
        if k not in (0, 1, 2):
            raise ValueError(f"module matrix index must be 0, 1 or 2; got {k!r}")
        return self.get(("module", str(module), int(k)))

    def position(self, i: int) -> RandomMatrix:
        """``R_i`` of tuple position i (1-based), shared across the network."""
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or i < 1:
            raise ValueError(f"tuple position must be an int >= 1; got {i!r}")
        return self.get(("position", int(i)))

    def get(self, role: tuple) -> RandomMatrix:
        """Matrix of ``role``, from the cache or drawn from ``(seed, role)``."""
        if role in self._cache:
            self._cache.move_to_end(role)
            return self._cache[role]
        R = self._draw(role)
        self._remember(role, R)
        return R

    def _draw(self, role: tuple) -> RandomMatrix:
        ss = np.random.SeedSequence(self.seed, spawn_key=_role_key(role))
        rng = np.random.default_rng(ss)
        self.draws += 1
        logger.debug("drawing %s matrix for role %r at d=%d", self.family, role, self.d)
        if self.family == "haar":
            return DenseMatrix(haar(self.d, rng))
        if self.family == "gaussian":
            return DenseMatrix(gaussian(self.d, rng))
        if self.family == "fast":
            return fast_orthonormal(self.d, rng)
        params = dict(self.identity.params)
        return block_matrix(self.d, rng, b=params["b"], q=params["q"])

    def _remember(self, role: tuple, R: RandomMatrix) -> None:
        size = R.nbytes
        if size > self.max_dense_bytes:
            logger.info("matrix of %d bytes exceeds the bank budget; not cached", size)
            return
        while self._cache and self._cached_bytes + size > self.max_dense_bytes:
            _old, evicted = self._cache.popitem(last=False)
            self._cached_bytes -= evicted.nbytes
        self._cache[role] = R
        self._cached_bytes += size

    def matrix_bytes(self) -> int:
        """Bytes one matrix of this bank occupies (draws the matrix of position 1)."""
        return self.position(1).nbytes

"""Random matrix families and the seeded bank (SPEC section 2)."""

import math

import numpy as np
import pytest

from sketch_explorer import FAMILIES, MatrixBank
from sketch_explorer.matrices import (
    block_matrix,
    enc,
    fast_orthonormal,
    gaussian,
    haar,
    nearest_block_dimension,
)


def dim_for(family, d):
    return nearest_block_dimension(d)[0] if family == "block" else d


@pytest.mark.parametrize("family", FAMILIES)
def test_apply_and_transpose_match_dense(family, seed):
    d = dim_for(family, 128)
    R = MatrixBank(d, family, seed).position(3)
    D = R.to_dense()
    X = np.random.default_rng(seed).standard_normal((4, d))
    np.testing.assert_allclose(R.apply(X), X @ D.T, atol=1e-12)
    np.testing.assert_allclose(R.apply_t(X), X @ D, atol=1e-12)
    np.testing.assert_allclose(R.apply(X[0]), D @ X[0], atol=1e-12)


@pytest.mark.parametrize("family", ["haar", "fast"])
def test_orthonormal_families_are_orthonormal(family, seed):
    D = MatrixBank(200, family, seed).module("cat", 1).to_dense()
    np.testing.assert_allclose(D @ D.T, np.eye(200), atol=1e-12)


def test_gaussian_entries_have_variance_one_over_d():
    D = gaussian(400, np.random.default_rng(0))
    # 160,000 entries: the sample variance is within 1% (sd of the estimate ~ 0.35%)
    assert D.var() * 400 == pytest.approx(1.0, rel=0.01)
    assert abs(D.mean()) < 4 * (1 / 20) / 400


def test_haar_sign_balance():
    """Without the sign fix, QR's Q has a deterministic sign pattern on its diagonal.

    For a Haar draw each entry is symmetric about zero: over n = 400 draws the mean sign of
    Q[0, 0] has standard error 1/sqrt(n) = 0.05; we allow 3 standard errors.
    """
    n = 400
    signs = [np.sign(haar(6, np.random.default_rng(s))[0, 0]) for s in range(n)]
    assert abs(np.mean(signs)) < 3 / math.sqrt(n)
    raw = [np.sign(np.linalg.qr(np.random.default_rng(s).standard_normal((6, 6)))[0][0, 0])
           for s in range(50)]
    assert abs(np.mean(raw)) == 1.0  # what the correction removes


def test_haar_first_column_is_uniform_on_sphere():
    """Coordinates of a uniform unit vector in R^d have E[x^2] = 1/d; check sum of squares of
    the first row entry over draws (mean of d * Q[0,0]^2 is 1, variance 2(d-1)/(d+2))."""
    d, n = 8, 400
    vals = np.array([d * haar(d, np.random.default_rng(1000 + s))[0, 0] ** 2 for s in range(n)])
    se = math.sqrt(2 * (d - 1) / (d + 2) / n)
    assert abs(vals.mean() - 1) < 3 * se


def test_fast_family_memory_is_linear():
    small = fast_orthonormal(1024, np.random.default_rng(0)).nbytes
    big = fast_orthonormal(16384, np.random.default_rng(0)).nbytes
    assert big == 16 * small
    assert big < 16384 * 8 * 8  # a handful of length-d vectors, not d^2


@pytest.mark.parametrize("family", FAMILIES)
def test_bank_is_deterministic_and_roles_differ(family):
    d = dim_for(family, 96)
    a, b = MatrixBank(d, family, 5), MatrixBank(d, family, 5)
    b.position(7)  # drawing other roles first changes nothing
    np.testing.assert_array_equal(a.module("x", 0).to_dense(), b.module("x", 0).to_dense())
    assert not np.allclose(a.module("x", 0).to_dense(), a.module("x", 1).to_dense())
    assert not np.allclose(a.position(1).to_dense(), MatrixBank(d, family, 6).position(1).to_dense())


def test_bank_memory_is_bounded_and_redraws_identically():
    d = 256
    one = d * d * 8
    bank = MatrixBank(d, "haar", 0, max_dense_bytes=3 * one)
    first = bank.position(1).to_dense().copy()
    for i in range(2, 10):
        bank.position(i)
        assert bank.cached_bytes <= 3 * one
    draws = bank.draws
    np.testing.assert_array_equal(bank.position(1).to_dense(), first)  # evicted, redrawn
    assert bank.draws == draws + 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(d=0), "d must be a positive integer"),
        (dict(d=64, family="sparse"), "family must be one of"),
        (dict(d=64, seed=-1), "seed must be a non-negative int"),
        (dict(d=1024, family="block"), "multiple of the block size b=39.*d=1014"),
        (dict(d=1014, family="block", b=40), "multiple of 3"),
        (dict(d=1014, family="block", q=0.0), "q must be in"),
    ],
)
def test_bank_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        MatrixBank(**kwargs)


# -------------------------------------------------------------------- D(b, q, d)
def test_enc_layout():
    d, b, q = 1014, 39, 0.25
    v = enc(6, -1, 1, b, d, q) * math.sqrt(d * q)
    assert v.shape == (13,)
    # leading +1, then 10 bits of 5 = 0000000101 (most significant first), then b_m, b_s
    bits = [-1] * 7 + [1, -1, 1]
    np.testing.assert_array_equal(v, [1] + bits + [-1, 1])
    # a longer block pads with +1 up to b/3 entries
    padded = enc(6, -1, 1, 45, 1035, q) * math.sqrt(1035 * q)
    np.testing.assert_array_equal(padded, [1] + [-1] + bits + [-1, 1, 1])


def test_block_matrix_structure():
    d, b, q = 1035, 45, 0.3
    R = block_matrix(d, np.random.default_rng(3), b=b, q=q)
    D = R.to_dense()
    scale = 1 / math.sqrt(d * q)
    third, n_bits = b // 3, 11
    nonzero = D[D != 0]
    np.testing.assert_allclose(np.abs(nonzero), scale)
    sigma_m = None
    for j in range(0, d, 97):
        blocks = D[:, j].reshape(d // b, b)
        for blk in blocks[np.any(blocks != 0, axis=1)]:
            s_part, c_part, m_part = blk[:third], blk[third:2 * third], blk[2 * third:]
            # the matrix signature is shared by all blocks up to the flip f_m
            f_m = 1 if sigma_m is None else np.sign(m_part[0] * sigma_m[0])
            if sigma_m is None:
                sigma_m = m_part.copy()
            np.testing.assert_array_equal(m_part, f_m * sigma_m)
            # the column signature decodes column j; its leading entry carries f_c
            f_c = np.sign(c_part[0])
            bits = (f_c * c_part[1 : 1 + n_bits] > 0).astype(int)
            assert int("".join(map(str, bits)), 2) == j
            # padding (b/3 = 15 > 1 + 11 + 2) repeats the leading +1
            np.testing.assert_array_equal(f_c * c_part[3 + n_bits:], scale)
    assert sigma_m is not None


def test_block_column_norms_and_block_counts():
    """Column norm^2 = b/(dq) * (number of non-zero blocks), Binomial(d/b, q): mean 1."""
    d, b, q = 1014, 39, 0.2
    D = block_matrix(d, np.random.default_rng(0), b=b, q=q).to_dense()
    norms2 = (D**2).sum(axis=0)
    n_blocks = d // b
    counts = norms2 * d * q / b
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)
    # mean of d Binomial(26, .2) / (26 * .2): sd of the mean = sqrt((1-q)/(q n_blocks d))
    se = math.sqrt((1 - q) / (q * n_blocks) / d)
    assert abs(norms2.mean() - 1) < 4 * se
    assert norms2.std() == pytest.approx(math.sqrt((1 - q) / (q * n_blocks)), rel=0.1)


def test_block_matrix_rank_matches_spec():
    """SPEC §2: rank (b/3 + ceil(log2 d) + 4)/b * d, about 2d/3; D is singular."""
    d, b = 1014, 39
    D = block_matrix(d, np.random.default_rng(1), b=b, q=0.2).to_dense()
    assert np.linalg.matrix_rank(D) == (b // 3 + 10 + 4) * d // b


def test_block_signature_bits_decode_signs():
    """f'_m and f'_s in Enc, with the first entries of sigma_m and sigma_s, give f_m, f_s."""
    d, b, q = 231, 33, 0.5
    R = block_matrix(d, np.random.default_rng(9), b=b, q=q)
    D = R.to_dense()
    third, n_bits = b // 3, 8
    checked = 0
    for j in range(d):
        for blk in D[:, j].reshape(d // b, b):
            if not blk.any():
                continue
            s_part, c_part, m_part = blk[:third], blk[third:2 * third], blk[2 * third:]
            f_c = np.sign(c_part[0])
            fp_m, fp_s = f_c * np.sign(c_part[1 + n_bits]), f_c * np.sign(c_part[2 + n_bits])
            # f'_m = f_m sign(sigma_m[1]) and the block holds f_m sigma_m: f'_m = sign(block[m1])
            assert fp_m == np.sign(m_part[0])
            assert fp_s == np.sign(s_part[0])
            checked += 1
    assert checked > 100


@pytest.mark.parametrize("d", [256, 231, 264, 300, 1000, 1024, 4096, 5000])
def test_nearest_block_dimension_is_valid_and_settles(d):
    """b depends on d through ceil(log2 d); near powers of two the search used to oscillate
    (256 -> 264 -> 252 -> ...) and return a d that the block family then rejected."""
    d_valid, b = nearest_block_dimension(d)
    assert d_valid % b == 0
    assert b == 3 * (math.ceil(math.log2(d_valid)) + 3)
    MatrixBank(d_valid, "block", 0)  # accepted

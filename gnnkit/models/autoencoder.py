r"""Graph auto-encoders (Kipf & Welling, "Variational Graph Auto-Encoders", NIPS 2016 workshop
on Bayesian deep learning; reference code tkipf/gae).

Both encoders are two GCN layers with Â = D^{-1/2} (A + I) D^{-1/2} of the training graph:

    GAE:   Z = GCN(X, A) = Â ReLU(Â X W0) W1                                     (Sec. 2)
    VGAE:  H = ReLU(Â X W0),  mu = Â H W_mu,  log sigma = Â H W_sigma,
           z_i = mu_i + sigma_i * eps_i,  eps_i ~ N(0, I)    (training; Z = mu in evaluation)

and both decode with the inner product, p(A_ij = 1) = sigmoid(z_i^T z_j)
(:class:`gnnkit.nn.InnerProductDecoder`). The losses are in :mod:`gnnkit.models.losses`
(reconstruction) and :func:`kl_term` (VGAE's KL regulariser).

Featureless variant (the paper's GAE* / VGAE*): ``x=None`` means X = I_N, and the model must
have been built with ``in_dim = N``. Then Â X W0 = Â W0: the first layer reads its weight
matrix [N, H] as the input rows (an embedding lookup of every node), so no N x N identity,
dense or sparse, is ever built, and the product costs O(E H) instead of O(N^2 H).

Sparse input: ``x`` may also be a ``torch.sparse_csr`` tensor (tkipf/gae feeds the
bag-of-words features sparse too); the first product X W is then a sparse-dense product, about
4x faster than the dense one for Cora's and CiteSeer's 1 %-dense features, with the same
result up to float rounding.

Differences from tkipf/gae: none in the architecture (no biases, Glorot-uniform weights,
dropout 0 by default); dropout, when asked for, is applied to each layer's input as there, and
for X = I it drops rows of W0 (the same as dropping diagonal entries of I).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import ops
from ..graph import Graph
from ..nn import GCNConv
from ..nn.functional import dropout as _dropout
from .losses import kl_term

__all__ = ["GAE", "VGAE", "kl_term"]


class _Encoder(nn.Module):
    """The shared first layer: H = ReLU(Â X W0), with the X = I path."""

    conv1: GCNConv
    dropout: float

    def _first(self, x: Tensor | None, g: Graph) -> Tensor:
        if x is None:                                   # X = I_N: Â I W0 = Â W0
            w = self.conv1.weight                       # [N, H]
            if w.shape[0] != g.num_nodes:
                raise ValueError(f"x=None (identity features) needs in_dim = N = "
                                 f"{g.num_nodes}, but the model has in_dim = {w.shape[0]}")
            if self.training and self.dropout > 0:      # dropout on I's diagonal = on W0's rows
                w = w * _dropout(w.new_ones(w.shape[0], 1), self.dropout, True)
            gh, norm_w = ops.gcn_norm(g, True, w.dtype)
            h = ops.spmm(gh, w, norm_w)                 # [N, H]
            if self.conv1.bias is not None:
                h = h + self.conv1.bias
        elif x.layout == torch.sparse_csr:              # sparse bag-of-words: (X W) sparse x dense
            if self.training and self.dropout > 0:      # dropout on the stored entries
                x = torch.sparse_csr_tensor(x.crow_indices(), x.col_indices(),
                                            _dropout(x.values(), self.dropout, True), x.shape)
            h = self.conv1(x, g)                        # [N, H]
        else:
            h = self.conv1(_dropout(x, self.dropout, self.training), g)   # [N, H]
        return F.relu(h)


class GAE(_Encoder):
    r"""Graph auto-encoder (Kipf & Welling 2016, Sec. 2, "non-probabilistic GAE").

        Z = Â ReLU(Â X W0) W1,      Â = D^{-1/2} (A + I) D^{-1/2}

    ``forward`` returns Z; score pairs with :class:`gnnkit.nn.InnerProductDecoder`.

    Shapes: x [N, F_in] (or None for X = I, with in_dim = N), g: Graph with N nodes
    -> z [N, latent_dim].
    Differences from the paper: none (tkipf/gae ``GCNModelAE``: hidden 32, latent 16, no
    biases, no activation on Z).
    """

    def __init__(self, in_dim: int, hidden_dim: int = 32, latent_dim: int = 16,
                 dropout: float = 0.0, bias: bool = False) -> None:
        super().__init__()
        self.conv1 = GCNConv(in_dim, hidden_dim, bias=bias)
        self.conv2 = GCNConv(hidden_dim, latent_dim, bias=bias)
        self.dropout = dropout

    def reset_parameters(self) -> None:
        self.conv1.reset_parameters()
        self.conv2.reset_parameters()

    def forward(self, x: Tensor | None, g: Graph) -> Tensor:
        h = self._first(x, g)                                          # [N, H]
        return self.conv2(_dropout(h, self.dropout, self.training), g)  # [N, D]

    def embed(self, x: Tensor | None, g: Graph) -> Tensor:
        """The embedding used for evaluation: Z."""
        return self.forward(x, g)


class VGAE(_Encoder):
    r"""Variational graph auto-encoder (Kipf & Welling 2016, Sec. 2, Eqs. 1-4).

        H = ReLU(Â X W0),   mu = Â H W_mu,   log sigma = Â H W_sigma          [N, D] each
        q(z_i | X, A) = N(mu_i, diag sigma_i^2),   z_i = mu_i + sigma_i * eps_i

    ``forward`` returns ``(z, mu, logstd)``: in training mode z is sampled with the
    reparameterisation trick, eps ~ N(0, I) drawn from ``generator`` (torch's global generator
    when None); in evaluation mode z = mu (tkipf/gae scores with ``z_mean``). The loss adds
    :meth:`kl_loss` to the reconstruction loss.

    Shapes: x [N, F_in] (or None for X = I, with in_dim = N), g: Graph with N nodes
    -> z, mu, logstd [N, latent_dim].
    Differences from the paper: none (tkipf/gae ``GCNModelVAE``).
    """

    def __init__(self, in_dim: int, hidden_dim: int = 32, latent_dim: int = 16,
                 dropout: float = 0.0, bias: bool = False) -> None:
        super().__init__()
        self.conv1 = GCNConv(in_dim, hidden_dim, bias=bias)
        self.conv_mu = GCNConv(hidden_dim, latent_dim, bias=bias)
        self.conv_logstd = GCNConv(hidden_dim, latent_dim, bias=bias)
        self.dropout = dropout

    def reset_parameters(self) -> None:
        for conv in (self.conv1, self.conv_mu, self.conv_logstd):
            conv.reset_parameters()

    def encode(self, x: Tensor | None, g: Graph) -> tuple[Tensor, Tensor]:
        """``(mu, logstd)`` of q(Z | X, A), ``[N, D]`` each."""
        h = _dropout(self._first(x, g), self.dropout, self.training)   # [N, H]
        return self.conv_mu(h, g), self.conv_logstd(h, g)

    def forward(self, x: Tensor | None, g: Graph, generator: torch.Generator | None = None
                ) -> tuple[Tensor, Tensor, Tensor]:
        mu, logstd = self.encode(x, g)
        if not self.training:
            return mu, mu, logstd
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        return mu + eps * torch.exp(logstd), mu, logstd                 # [N, D]

    def embed(self, x: Tensor | None, g: Graph) -> Tensor:
        """The embedding used for evaluation: mu."""
        return self.encode(x, g)[0]

    @staticmethod
    def kl_loss(mu: Tensor, logstd: Tensor) -> Tensor:
        """tkipf/gae's KL term, -(0.5/N) mean_i sum_k (1 + 2 log sigma - mu^2 - sigma^2)."""
        return kl_term(mu, logstd)

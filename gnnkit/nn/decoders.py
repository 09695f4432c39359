"""Edge decoders: scores of node pairs from node embeddings."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..ops import ids_outside

__all__ = ["InnerProductDecoder"]


class InnerProductDecoder(nn.Module):
    r"""Inner-product decoder (Kipf & Welling, "Variational Graph Auto-Encoders", 2016, Eq. 2).

        p(A_ij = 1 | z_i, z_j) = sigmoid(z_i^T z_j)

    No parameters. ``forward`` scores given pairs; :meth:`forward_all` builds the full
    ``sigmoid(Z Z^T)`` and is meant for small graphs only (N^2 entries).

    Shapes: z [N, D], pairs [2, P] (row 0 = i, row 1 = j) -> probabilities [P]
    (and logits [P] with ``return_logits=True``); ``forward_all``: z [N, D] -> [N, N].

    Differences from the paper: tkipf/gae applies dropout to Z before the product (rate 0 in
    every experiment); there is none here.
    """

    def forward(self, z: Tensor, pairs: Tensor, return_logits: bool = False
                ) -> Tensor | tuple[Tensor, Tensor]:
        logits = self.logits(z, pairs)                  # [P]
        prob = torch.sigmoid(logits)                     # [P]
        return (prob, logits) if return_logits else prob

    @staticmethod
    def logits(z: Tensor, pairs: Tensor) -> Tensor:
        """z_i^T z_j for every pair, ``[P]``."""
        if pairs.dim() != 2 or pairs.shape[0] != 2:
            raise ValueError(f"pairs must have shape [2, P], got {list(pairs.shape)}")
        if pairs.is_floating_point() or pairs.dtype == torch.bool:
            raise ValueError(f"pairs must hold integer node ids, got {pairs.dtype}")
        if (bad := ids_outside(pairs, z.shape[0])) is not None:
            # checked here: on CUDA an out-of-range index is a device-side assert that ends
            # the process's CUDA context
            raise ValueError(f"pairs hold node ids in [{bad[0]}, {bad[1]}], but z has "
                             f"{z.shape[0]} rows (ids 0..{z.shape[0] - 1})")
        return (z[pairs[0]] * z[pairs[1]]).sum(-1)     # [P, D] -> [P]

    def forward_all(self, z: Tensor, sigmoid: bool = True) -> Tensor:
        """``sigmoid(Z Z^T)`` (or the logits ``Z Z^T``), ``[N, N]``: O(N^2) memory."""
        s = z @ z.t()                                    # [N, N]
        return torch.sigmoid(s) if sigmoid else s

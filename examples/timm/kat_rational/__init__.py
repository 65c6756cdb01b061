# CPU stand-in for the KAT authors' kat_rational (its kernels need CUDA/Triton):
# the same parameters and formula, y = P(x) / (1 + sum_j |b_j| |x|^(j+1)), per channel group.
import torch
from torch import nn


class KAT_Group(nn.Module):
    def __init__(self, num_groups=8, mode="gelu", device=None):
        super().__init__()
        self.num_groups = num_groups
        # Identity at init: the real values come from the checkpoint.
        self.weight_numerator = nn.Parameter(torch.tensor([[0.0, 1.0, 0.0, 0.0, 0.0, 0.0]]))
        self.weight_denominator = nn.Parameter(torch.zeros(num_groups, 4))

    def forward(self, x):
        shape = x.shape
        g = x.reshape(*shape[:-1], self.num_groups, shape[-1] // self.num_groups)
        a = self.weight_numerator.unsqueeze(-1)  # [1 or G, 6, 1]
        b = self.weight_denominator.abs().unsqueeze(-1)  # [G, 4, 1]
        p = a[:, 5]
        for i in range(4, -1, -1):
            p = p * g + a[:, i]
        ax = g.abs()
        q = b[:, 3]
        for i in range(2, -1, -1):
            q = q * ax + b[:, i]
        return (p / (q * ax + 1)).reshape(shape)

"""The classic VAE in PyTorch, built to match minivae's default model step for step.

784-400-20 with ReLU, an encoder whose last layer emits [mu, log_var] in one product, a
decoder emitting Bernoulli logits, the loss summed over pixels and latent dimensions and
averaged over the batch (binary cross-entropy with logits plus the closed-form Gaussian KL),
one reparameterized sample per example, Adam with PyTorch's defaults except the learning rate.
``nn.Linear``'s default initialisation draws weights and biases from U(-1/sqrt(fan_in),
1/sqrt(fan_in)), the same distribution as :func:`minivae.nn.init_linear`.

Imported only by the benchmarks, and only when PyTorch is installed; minivae never needs it.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class TorchVAE(nn.Module):
    def __init__(self, input_dim=784, hidden=400, latent_dim=20):
        super().__init__()
        self.d = latent_dim
        self.enc = nn.Sequential(nn.Linear(input_dim, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent_dim))
        self.dec = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, input_dim))

    def loss(self, x):
        """Negative single-sample ELBO, nats per example; returns (loss, recon, kl) tensors."""
        h = self.enc(x)
        mu, log_var = h[:, :self.d], h[:, self.d:]
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)
        logits = self.dec(z)
        B = x.shape[0]
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / B
        kl = 0.5 * torch.sum(torch.exp(log_var) + mu * mu - 1.0 - log_var) / B
        return recon + kl, recon, kl


def make_step(model, optimizer):
    """One training step on a batch: forward, backward, optimizer update."""
    def step(x):
        loss, recon, kl = model.loss(x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss
    return step

"""The Interaction Topological Transformer (ITT; Chen, Wei et al. 2025), plain torch.

Four token streams describe a crystal (built by
:class:`skcrystal.featurizers.ITTTokenizer`, batched by
:func:`skcrystal.nn.data.collate_itt`):

* **structure** — one token, the persistent homology of the whole structure
  (1 x 750 Betti counts with ITT's defaults);
* **clusters** — one token per element cluster C0..C6 (7 x 750);
* **atoms** — the atom states of a CGCNN-style convolution over the crystal
  graph *without pooling*: atoms with the same 3-shell neighbour signature
  are one token (their states averaged), at most ``max_atoms`` tokens;
* **interactions** — persistent interaction homology of every ordered
  cluster pair C_i -> C_j (42 x 500).

The topological tokens are standardised (after ``sign(x) log(1 + |x|)``,
with statistics stored as buffers of the backbone, so they travel with a
pretrained backbone), embedded linearly and tagged with a token-type
embedding (and a per-slot embedding for the clusters and interaction pairs,
whose order is fixed).  Each of the ``n_layers`` layers is self-attention
over [structure, clusters, atoms] followed by cross-attention from those
tokens to the interaction tokens, then a GELU feed-forward block (post-norm,
as the reference).  The prediction is read from the first (structure)
token.  Padding atom tokens are masked as keys and zeroed, so they never
change the output; atom tokens carry no position, so the output does not
depend on the order of the sites.
"""

from __future__ import annotations

import torch
from torch import nn

from .cgnn import CGConv
from .layers import scatter_mean

__all__ = ["ITTBackbone", "ITTLayer", "ITT", "ITTMaskedPretraining", "TOKEN_TYPES"]

#: Token-type ids of the type embedding.
TOKEN_TYPES = {"structure": 0, "cluster": 1, "atom": 2, "interaction": 3}


def signed_log1p(x):
    """``sign(x) log(1 + |x|)``: tames Betti counts that range over orders of magnitude."""
    return torch.sign(x) * torch.log1p(torch.abs(x))


class ITTLayer(nn.Module):
    """Self-attention over the main tokens, cross-attention to the interaction tokens, feed-forward.

    Parameters
    ----------
    hidden : int
    n_heads : int
    ffn : int
        Width of the feed-forward block.
    dropout : float
        Dropout on the attention weights and the residual branches.
    norm_first : bool, default=False
        Pre-norm residual blocks (more stable for deep stacks) instead of the
        reference's post-norm.
    """

    def __init__(self, hidden, n_heads, ffn, dropout, norm_first=False):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(hidden, n_heads, dropout=dropout, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(hidden, n_heads, dropout=dropout, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(hidden, ffn), nn.GELU(), nn.Dropout(dropout), nn.Linear(ffn, hidden))
        self.norm1 = nn.LayerNorm(hidden)
        self.norm2 = nn.LayerNorm(hidden)
        self.norm3 = nn.LayerNorm(hidden)
        self.drop = nn.Dropout(dropout)
        self.norm_first = norm_first

    def forward(self, x, memory, key_padding_mask=None, need_weights=False):
        """Update ``x`` (B, L, H) given the interaction tokens ``memory`` (B, M, H).

        Parameters
        ----------
        x : Tensor (B, L, H)
            Main token states.
        memory : Tensor (B, M, H)
            Interaction token states (keys and values of the cross-attention).
        key_padding_mask : bool Tensor (B, L) or None, default=None
            True for padding tokens of ``x``.
        need_weights : bool, default=False
            Also return the attention weights.

        Returns
        -------
        x : tensor (B, L, H)
        weights : (self (B, heads, L, L), cross (B, heads, L, M)) or (None, None)
        """
        kw = {"need_weights": need_weights, "average_attn_weights": False}
        if self.norm_first:
            h = self.norm1(x)
            a, w_self = self.self_attn(h, h, h, key_padding_mask=key_padding_mask, **kw)
            x = x + self.drop(a)
            c, w_cross = self.cross_attn(self.norm2(x), memory, memory, **kw)
            x = x + self.drop(c)
            x = x + self.drop(self.ffn(self.norm3(x)))
        else:
            a, w_self = self.self_attn(x, x, x, key_padding_mask=key_padding_mask, **kw)
            x = self.norm1(x + self.drop(a))
            c, w_cross = self.cross_attn(x, memory, memory, **kw)
            x = self.norm2(x + self.drop(c))
            x = self.norm3(x + self.drop(self.ffn(x)))
        return x, (w_self, w_cross)


class ITTBackbone(nn.Module):
    """ITT without its head: the four token streams in, the final token states out.

    Parameters
    ----------
    n_atom_features : int
        Width of the graph's atom features.
    n_edge_features : int
        Width of the graph's edge features.
    d_structure, d_cluster, d_interaction : int, default=750, 750, 500
        Widths of the structure, cluster and interaction tokens.
    n_clusters, n_interactions : int, default=7, 42
        Numbers of cluster and interaction tokens.
    atom_fea_len : int, default=128
        Width of the atom states of the graph convolution (ITT: 128).
    n_conv : int, default=4
        Graph convolutions (ITT: 4).
    hidden : int, default=256
        Transformer width (ITT: 256).
    n_layers : int, default=8
    n_heads : int, default=8
    ffn : int, default=1024
    dropout : float, default=0.1
    norm_first : bool, default=False
        See :class:`ITTLayer`.
    token_transform : {"log1p", None}, default="log1p"
        Applied to the topological tokens before standardisation.
    conv_norm : {"batch", "layer", None}, default="batch"
        Normalisation inside the graph convolutions (CGCNN: batch).
    """

    def __init__(
        self,
        n_atom_features,
        n_edge_features,
        d_structure=750,
        d_cluster=750,
        d_interaction=500,
        n_clusters=7,
        n_interactions=42,
        atom_fea_len=128,
        n_conv=4,
        hidden=256,
        n_layers=8,
        n_heads=8,
        ffn=1024,
        dropout=0.1,
        norm_first=False,
        token_transform="log1p",
        conv_norm="batch",
    ):
        super().__init__()
        if hidden % n_heads:
            raise ValueError(f"hidden={hidden} must be a multiple of n_heads={n_heads}")
        if token_transform not in ("log1p", None):
            raise ValueError(f"token_transform must be 'log1p' or None, got {token_transform!r}")
        self.token_transform = token_transform
        self.n_clusters = n_clusters
        self.n_interactions = n_interactions
        self.hidden = hidden
        for name, d in (("structure", d_structure), ("cluster", d_cluster), ("interaction", d_interaction)):
            self.register_buffer(f"{name}_shift", torch.zeros(d))
            self.register_buffer(f"{name}_scale", torch.ones(d))
        self.atom_embedding = nn.Linear(n_atom_features, atom_fea_len)
        self.convs = nn.ModuleList(CGConv(atom_fea_len, n_edge_features, conv_norm) for _ in range(n_conv))
        self.proj_structure = nn.Linear(d_structure, hidden)
        self.proj_cluster = nn.Linear(d_cluster, hidden)
        self.proj_interaction = nn.Linear(d_interaction, hidden)
        self.proj_atom = nn.Linear(atom_fea_len, hidden)
        self.atom_weight = nn.Linear(1, hidden, bias=False)
        self.type_embedding = nn.Embedding(len(TOKEN_TYPES), hidden)
        self.cluster_slot = nn.Embedding(n_clusters, hidden)
        self.interaction_slot = nn.Embedding(n_interactions, hidden)
        self.embed_norm = nn.LayerNorm(hidden)
        self.memory_norm = nn.LayerNorm(hidden)
        self.embed_drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList(ITTLayer(hidden, n_heads, ffn, dropout, norm_first) for _ in range(n_layers))
        self.final_norm = nn.LayerNorm(hidden) if norm_first else nn.Identity()
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m):
        # BERT-style initialisation, as the reference
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    # ------------------------------------------------------------ token statistics
    def _transform(self, x):
        x = x.to(torch.float32)
        return signed_log1p(x) if self.token_transform == "log1p" else x

    @torch.no_grad()
    def set_token_statistics(self, structure, clusters, interactions):
        """Learn the standardisation of each token stream from training tokens.

        Parameters
        ----------
        structure, clusters, interactions : array-like of shape (n, n_tokens, d)
            Raw tokens of the training structures; statistics are per feature,
            pooled over the tokens of a stream (as the reference's scalers).
        """
        for name, arr in (("structure", structure), ("cluster", clusters), ("interaction", interactions)):
            x = self._transform(torch.as_tensor(arr)).reshape(-1, getattr(self, f"{name}_shift").shape[0])
            mean = x.mean(0)
            std = x.std(0, unbiased=False)
            std = torch.where(std > 1e-6, std, torch.ones_like(std))
            getattr(self, f"{name}_shift").copy_(mean)
            getattr(self, f"{name}_scale").copy_(std)

    def prepare_tokens(self, structure, clusters, interactions):
        """Standardise the topological tokens (what the embeddings see).

        Parameters
        ----------
        structure, clusters, interactions : Tensor (B, n_tokens, d)
            Raw topological tokens of the batch (structure, cluster, interaction streams).

        Returns
        -------
        s, c, i : Tensor
            The standardised streams, same shapes.
        """
        s = (self._transform(structure) - self.structure_shift) / self.structure_scale
        c = (self._transform(clusters) - self.cluster_shift) / self.cluster_scale
        i = (self._transform(interactions) - self.interaction_shift) / self.interaction_scale
        return s, c, i

    # ------------------------------------------------------------ streams
    def atom_tokens(self, atom_features, edge_index, edge_features, atom_group, n_structures, n_slots):
        """Run the graph convolutions, then average the states of each atom group.

        Parameters
        ----------
        atom_features : Tensor (N, F)
            Atom features of the batch's flat graph.
        edge_index : LongTensor (2, E)
            Bonds of the flat graph.
        edge_features : Tensor (E, F_e)
            Bond features.
        atom_group : LongTensor (N,)
            Slot of each atom in the padded atom tokens (``b * G + g``; -1 beyond the cap).
        n_structures : int
            Structures in the batch (B).
        n_slots : int
            Atom-token slots per structure (G).

        Returns
        -------
        Tensor (B, n_slots, atom_fea_len)
            Mean atom state of each group.
        """
        v = self.atom_embedding(atom_features)
        for conv in self.convs:
            v = conv(v, edge_index, edge_features)
        keep = atom_group >= 0
        pooled = scatter_mean(v[keep], atom_group[keep], n_structures * n_slots)
        return pooled.view(n_structures, n_slots, -1)

    def encode(self, s, c, i, atom_features, edge_index, edge_features, atom_group, group_fraction, atom_mask,
               return_attention=False):
        """Compute the final token states from standardised topological tokens and the graph.

        Parameters
        ----------
        s, c, i : Tensor
            Standardised structure, cluster and interaction tokens (:meth:`prepare_tokens`).
        atom_features : Tensor (N, F)
            Atom features of the batch's flat graph.
        edge_index : LongTensor (2, E)
            Bonds of the flat graph.
        edge_features : Tensor (E, F_e)
            Bond features.
        atom_group : LongTensor (N,)
            Slot of each atom in the padded atom tokens (``b * G + g``; -1 beyond the cap).
        group_fraction : Tensor (B, G)
            Share of the structure's atoms in each atom token.
        atom_mask : bool Tensor (B, G)
            Which atom-token slots are real.
        return_attention : bool, default=False
            Also return each layer's attention weights.

        Returns
        -------
        h : tensor (B, 1 + n_clusters + n_slots, hidden)
            Structure token first, then clusters, then atom groups (padding rows zero).
        attention : list of (self, cross) weight tensors per layer (only if ``return_attention``)
        """
        B, G = atom_mask.shape
        t = self.type_embedding.weight
        atoms = self.atom_tokens(atom_features, edge_index, edge_features, atom_group, B, G)
        atom_tok = self.proj_atom(atoms) + self.atom_weight(group_fraction.unsqueeze(-1)) + t[TOKEN_TYPES["atom"]]
        s_tok = self.proj_structure(s) + t[TOKEN_TYPES["structure"]]
        c_tok = self.proj_cluster(c) + t[TOKEN_TYPES["cluster"]] + self.cluster_slot.weight
        i_tok = self.proj_interaction(i) + t[TOKEN_TYPES["interaction"]] + self.interaction_slot.weight
        x = self.embed_drop(self.embed_norm(torch.cat([s_tok, c_tok, atom_tok], dim=1)))
        memory = self.embed_drop(self.memory_norm(i_tok))
        n_fixed = s_tok.shape[1] + c_tok.shape[1]
        pad = torch.cat([atom_mask.new_zeros(B, n_fixed), ~atom_mask], dim=1)
        x = x.masked_fill(pad.unsqueeze(-1), 0.0)
        weights = []
        for layer in self.layers:
            x, w = layer(x, memory, key_padding_mask=pad, need_weights=return_attention)
            x = x.masked_fill(pad.unsqueeze(-1), 0.0)
            if return_attention:
                weights.append(w)
        x = self.final_norm(x).masked_fill(pad.unsqueeze(-1), 0.0)
        return (x, weights) if return_attention else x

    def forward(self, structure, clusters, interactions, atom_features, edge_index, edge_features, atom_group,
                group_fraction, atom_mask, return_attention=False, **unused):
        """Compute the token states of a batch from :func:`skcrystal.nn.data.collate_itt`.

        Parameters
        ----------
        structure, clusters, interactions : Tensor (B, n_tokens, d)
            Raw topological tokens of the batch (structure, cluster, interaction streams).
        atom_features : Tensor (N, F)
            Atom features of the batch's flat graph.
        edge_index : LongTensor (2, E)
            Bonds of the flat graph.
        edge_features : Tensor (E, F_e)
            Bond features.
        atom_group : LongTensor (N,)
            Slot of each atom in the padded atom tokens (``b * G + g``; -1 beyond the cap).
        group_fraction : Tensor (B, G)
            Share of the structure's atoms in each atom token.
        atom_mask : bool Tensor (B, G)
            Which atom-token slots are real.
        return_attention : bool, default=False
            Also return each layer's attention weights.
        **unused
            Other entries of the collated batch (ignored).

        Returns
        -------
        h : Tensor (B, 1 + n_clusters + G, hidden)
            See :meth:`encode`.
        attention : list, only with ``return_attention``
            ``(self, cross)`` weights per layer.
        """
        s, c, i = self.prepare_tokens(structure, clusters, interactions)
        return self.encode(s, c, i, atom_features, edge_index, edge_features, atom_group, group_fraction, atom_mask,
                           return_attention=return_attention)


_BACKBONE_DOC = """
    Parameters
    ----------
    n_atom_features, n_edge_features : int
        Graph widths (set from the data by the estimators).
    d_structure, d_cluster, d_interaction : int, default=750, 750, 500
        Token widths (see :class:`ITTBackbone`).
    n_clusters, n_interactions : int, default=7, 42
        Numbers of cluster and interaction tokens.
    atom_fea_len : int, default=128
        Width of the graph convolution's atom states.
    n_conv : int, default=4
        Graph convolutions.
    hidden : int, default=256
        Transformer width.
    n_layers : int, default=8
        Transformer layers.
    n_heads : int, default=8
        Attention heads.
    ffn : int, default=1024
        Feed-forward width.
    dropout : float, default=0.1
        Dropout.
    norm_first : bool, default=False
        Pre-norm blocks (see :class:`ITTLayer`).
    token_transform : {"log1p", None}, default="log1p"
        Transform of the topological tokens before standardisation.
    conv_norm : {"batch", "layer", None}, default="batch"
        Normalisation inside the graph convolutions.
"""


class ITT(nn.Module):
    __doc__ = "ITT for regression or classification: the backbone, then a linear head on the structure token.\n" + (
        _BACKBONE_DOC
        + """    n_outputs : int, default=1
        Outputs of the head.
"""
    )

    def __init__(self, n_atom_features, n_edge_features, n_outputs=1, d_structure=750, d_cluster=750,
                 d_interaction=500, n_clusters=7, n_interactions=42, atom_fea_len=128, n_conv=4, hidden=256,
                 n_layers=8, n_heads=8, ffn=1024, dropout=0.1, norm_first=False, token_transform="log1p",
                 conv_norm="batch"):
        super().__init__()
        self.backbone = ITTBackbone(
            n_atom_features, n_edge_features, d_structure=d_structure, d_cluster=d_cluster,
            d_interaction=d_interaction, n_clusters=n_clusters, n_interactions=n_interactions,
            atom_fea_len=atom_fea_len, n_conv=n_conv, hidden=hidden, n_layers=n_layers, n_heads=n_heads, ffn=ffn,
            dropout=dropout, norm_first=norm_first, token_transform=token_transform, conv_norm=conv_norm,
        )
        self.head_drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_outputs)
        self.embedding_width = hidden

    def forward(self, return_attention=False, **batch):
        """Predict a batch from :func:`skcrystal.nn.data.collate_itt`.

        Parameters
        ----------
        return_attention : bool, default=False
            Also return each layer's attention weights.
        **batch
            The inputs dict of :func:`skcrystal.nn.data.collate_itt`.

        Returns
        -------
        y : Tensor (B, n_outputs)
            Outputs.
        attention : list, only with ``return_attention``
            ``(self, cross)`` weights per layer.
        """
        out = self.backbone(return_attention=return_attention, **batch)
        h, att = out if return_attention else (out, None)
        y = self.head(self.head_drop(h[:, 0]))
        return (y, att) if return_attention else y

    def embed(self, **batch):
        """Embed each structure as its final structure-token state.

        Parameters
        ----------
        **batch
            The inputs dict of :func:`skcrystal.nn.data.collate_itt`.

        Returns
        -------
        Tensor (B, hidden)
            One row per structure.
        """
        return self.backbone(**batch)[:, 0]


class ITTMaskedPretraining(nn.Module):
    __doc__ = (
        """ITT's self-supervised objective: reconstruct masked entries of the structure token.

    Each entry of the standardised structure token is masked (set to 0)
    independently with probability ``mask_ratio``; a linear head reads the
    final structure-token state and reconstructs all entries.  ``forward``
    returns ``(reconstruction, target, mask)``; the loss is the MSE over the
    masked entries only.
"""
        + _BACKBONE_DOC
        + """    mask_ratio : float, default=0.15
        Probability that an entry of the structure token is masked.
"""
    )

    def __init__(self, n_atom_features, n_edge_features, mask_ratio=0.15, d_structure=750, d_cluster=750,
                 d_interaction=500, n_clusters=7, n_interactions=42, atom_fea_len=128, n_conv=4, hidden=256,
                 n_layers=8, n_heads=8, ffn=1024, dropout=0.1, norm_first=False, token_transform="log1p",
                 conv_norm="batch"):
        super().__init__()
        self.backbone = ITTBackbone(
            n_atom_features, n_edge_features, d_structure=d_structure, d_cluster=d_cluster,
            d_interaction=d_interaction, n_clusters=n_clusters, n_interactions=n_interactions,
            atom_fea_len=atom_fea_len, n_conv=n_conv, hidden=hidden, n_layers=n_layers, n_heads=n_heads, ffn=ffn,
            dropout=dropout, norm_first=norm_first, token_transform=token_transform, conv_norm=conv_norm,
        )
        self.mask_ratio = mask_ratio
        self.mask_head = nn.Linear(hidden, d_structure)
        self.embedding_width = hidden

    def forward(self, structure, clusters, interactions, atom_features, edge_index, edge_features, atom_group,
                group_fraction, atom_mask, **unused):
        """Mask the structure tokens of one batch and reconstruct them.

        Parameters
        ----------
        structure, clusters, interactions : Tensor (B, n_tokens, d)
            Raw topological tokens of the batch (structure, cluster, interaction streams).
        atom_features : Tensor (N, F)
            Atom features of the batch's flat graph.
        edge_index : LongTensor (2, E)
            Bonds of the flat graph.
        edge_features : Tensor (E, F_e)
            Bond features.
        atom_group : LongTensor (N,)
            Slot of each atom in the padded atom tokens (``b * G + g``; -1 beyond the cap).
        group_fraction : Tensor (B, G)
            Share of the structure's atoms in each atom token.
        atom_mask : bool Tensor (B, G)
            Which atom-token slots are real.
        **unused
            Other entries of the collated batch (ignored).

        Returns
        -------
        reconstruction, target : Tensor (B, d_structure)
            Reconstructed and true standardised structure token.
        mask : bool Tensor (B, d_structure)
            The masked entries (the only ones scored).
        """
        s, c, i = self.prepare(structure, clusters, interactions)
        target = s[:, 0]
        mask = torch.rand(target.shape, device=target.device) < self.mask_ratio
        s_in = s.masked_fill(mask.unsqueeze(1), 0.0)
        h = self.backbone.encode(s_in, c, i, atom_features, edge_index, edge_features, atom_group, group_fraction,
                                 atom_mask)
        return self.mask_head(h[:, 0]), target, mask

    def prepare(self, structure, clusters, interactions):
        """Standardise the tokens (see :meth:`ITTBackbone.prepare_tokens`).

        Parameters
        ----------
        structure, clusters, interactions : Tensor (B, n_tokens, d)
            Raw topological tokens of the batch (structure, cluster, interaction streams).

        Returns
        -------
        s, c, i : Tensor
            The standardised streams.
        """
        return self.backbone.prepare_tokens(structure, clusters, interactions)

    def embed(self, **batch):
        """Embed each structure as its final structure-token state, nothing masked.

        Parameters
        ----------
        **batch
            The inputs dict of :func:`skcrystal.nn.data.collate_itt`.

        Returns
        -------
        Tensor (B, hidden)
            One row per structure.
        """
        return self.backbone(**batch)[:, 0]

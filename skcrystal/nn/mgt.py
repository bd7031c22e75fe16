"""MGT: the multi-view geometric graph transformer (plain torch + e3nn).

MGT (Zhang et al. 2025) reads a crystal through two encoders and lets a small
mixture of experts decide, per structure, how much each view counts:

* :class:`SE3Encoder` — the **invariant view**.  Atom states and bond states
  are refined in turn by gated graph-attention layers: an *edge-wise* layer
  over the bond-angle line graph (bonds sharing an atom attend to each other,
  keyed by the angle between them) and a *node-wise* layer over the distance
  graph (atoms attend to their neighbours, keyed by the bond state).
* :class:`SO3Encoder` — the **equivariant view**.  Each block passes
  equivariant messages (an e3nn tensor product of neighbour features with the
  spherical harmonics of the edge vector, weighted by a radial network) over
  ``ns`` scalar and ``nv`` vector (l = 1) channels, then an invariant gated
  attention layer refines the scalars.  The read-out uses invariants only
  (scalars and vector norms), so the prediction does not change when the
  crystal is rotated while the vector channels rotate with it.
* :class:`MoERouter` — one expert per view (Linear → GELU → Linear); an
  attention gate scores the two views of each structure and mixes the experts'
  outputs with the softmax of those scores.  The weights are returned.

:class:`MGTBackbone` holds both encoders and their projection heads (shared by
pre-training and fine-tuning); :class:`MGT` adds the router;
:class:`MGTPretrainNet` adds the self-supervised heads (angle denoising,
edge-vector denoising, NT-Xent between the views).  Every batch is the flat
output of :func:`skcrystal.nn.data.collate_dual_views` (index tensors, no
Python loop over atoms).

Differences from the reference code (Turningl/MGT), each for a stated reason:

* the invariant view's "line graph" is the bond-angle graph (pairs of bonds at
  an atom, as in ALIGNN) rather than the reference's three lattice vectors per
  edge, as the issue asks for bond angles;
* the gated attention keeps the reference's form (sigmoid-gated, batch-normed
  attention with key/value updates from centre, neighbour and edge) but
  computes the first linear map of each update once per node and uses one
  non-linearity per message, which removes the per-message second linear
  layers (the dominant cost on the ~12× larger line graph);
* angles enter through ``n_angle_rbf`` (40) Gaussian features instead of 256;
* the equivariant convolution carries the ``nv`` vector channels from block to
  block (depth-wise e3nn tensor product with per-edge radial weights and an
  e3nn ``Linear`` + gate per node, NequIP style) instead of a fully connected
  per-edge-weighted tensor product that returns scalars only; this is what
  makes the vector channels an output, and it is much cheaper on CPU;
* the router's weights are a softmax over views (positive, summing to one per
  structure), so they can be read as each view's share of the prediction;
  the reference multiplies expert outputs by an unnormalised attention output.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .data import gaussian_expansion_torch
from .layers import make_norm, scatter_mean, scatter_sum

__all__ = [
    "VIEWS",
    "EquivariantConv",
    "GatedGraphAttention",
    "MGT",
    "MGTBackbone",
    "MGTPretrainNet",
    "MoERouter",
    "ProjectionHead",
    "RadialBasis",
    "SE3Encoder",
    "SO3Encoder",
    "nt_xent",
]

#: Names of the two views, in the order of the router's weights.
VIEWS = ("se3", "so3")


class RadialBasis(nn.Module):
    """Gaussian basis ``exp(-((x - μ_k) / Δ)²)``, centres ``μ_k`` evenly spaced on ``[vmin, vmax]``, width Δ the spacing.

    Parameters
    ----------
    vmin, vmax : float
    n : int
        Number of centres.
    """

    def __init__(self, vmin, vmax, n):
        super().__init__()
        self.register_buffer("centers", torch.linspace(float(vmin), float(vmax), int(n)))
        self.width = (float(vmax) - float(vmin)) / (int(n) - 1) if int(n) > 1 else 1.0

    def forward(self, x):
        """Expand a tensor of shape (n,) into (n, n_centres).

        Parameters
        ----------
        x : Tensor (n,)
            The values to expand.

        Returns
        -------
        Tensor (n, n_centres)
            Gaussian expansion of ``x``.
        """
        return gaussian_expansion_torch(x, self.centers, self.width)


def _inverse_distance(d):
    """The reference's distance transform ``-0.75 / d`` (fine resolution at short range)."""
    return -0.75 / d.clamp(min=1e-3)


class GatedGraphAttention(nn.Module):
    """Sigmoid-gated graph attention with edge features (ComFormer / MGT style), residual update.

    For a message from ``src`` to ``dst`` along an edge with features ``e``:

        key = SiLU(K_d x_dst + K_s x_src + K_e e),   value = SiLU(V_d x_dst + V_s x_src + V_e e),
        msg = value ⊙ σ(norm(q_dst ⊙ key / √w)),
        x_dst <- softplus(x_dst + norm(W Σ_src msg)).

    Per-channel sigmoid gates instead of a softmax keep the number of
    neighbours visible to the model (a softmax would average it away).  The
    linear maps of ``x`` run once per node, so a message costs only the edge
    projection and element-wise work.

    Parameters
    ----------
    width : int
        Width of the node states.
    edge_width : int
        Width of the edge features.
    norm : {"batch", "layer", None}, default="batch"
    message_width : int or None, default=None
        Channels of the keys, values and messages (``None``: ``width``).  A
        narrower message keeps layers over many edges (the line graph) cheap.
    """

    def __init__(self, width, edge_width, norm="batch", message_width=None):
        super().__init__()
        mw = int(message_width or width)
        self.message_width = mw
        self.node_proj = nn.Linear(width, 5 * mw)
        self.edge_proj = nn.Linear(edge_width, 2 * mw)
        self.att_norm = make_norm(norm, mw)
        self.out = nn.Linear(mw, width)
        self.norm = make_norm(norm, width)

    def forward(self, x, dst, src, e, repeat=1):
        """Update node states ``x`` (n, width) with messages ``src -> dst`` carrying ``e`` (m, edge_width).

        ``repeat=2`` says the messages come in two halves with the same edge
        features (an undirected edge in both directions); ``e`` then holds the
        first half only and is projected once.

        Parameters
        ----------
        x : Tensor (n, width)
            Node states.
        dst, src : LongTensor (m,)
            Receiving and sending node of each message.
        e : Tensor (m / repeat, edge_width)
            Edge features of the messages.
        repeat : int, default=1
            How many times the edge features repeat along the messages.

        Returns
        -------
        Tensor (n, width)
            Updated node states.
        """
        q, kd, ks, vd, vs = self.node_proj(x).chunk(5, dim=1)
        pe = self.edge_proj(e)
        if repeat > 1:
            pe = pe.repeat(repeat, 1)
        ke, ve = pe.chunk(2, dim=1)
        key = F.silu(kd.index_select(0, dst) + ks.index_select(0, src) + ke)
        gate = torch.sigmoid(self.att_norm(q.index_select(0, dst) * key / math.sqrt(self.message_width)))
        msg = F.silu(vd.index_select(0, dst) + vs.index_select(0, src) + ve) * gate
        agg = scatter_sum(msg, dst, x.shape[0])
        return F.softplus(x + self.norm(self.out(agg)))


class SE3Encoder(nn.Module):
    """The invariant view: edge-wise (line graph) and node-wise (distance graph) gated attention.

    Parameters
    ----------
    n_atom_features : int
    width : int, default=256
    n_layers : int, default=3
        Blocks of (edge-wise layer, node-wise layer).
    n_rbf : int, default=256
        Gaussian features of the transformed distance ``-0.75 / d``.
    rbf_min, rbf_max : float, default=-4.0, 4.0
        Range of the distance basis (the reference's).
    n_angle_rbf : int, default=40
        Gaussian features of the bond-angle cosine on ``[-1, 1]``.
    angle_width : int, default=64
        Message channels of the edge-wise layers (the line graph has about
        ten times more pairs than the graph has bonds).
    norm : {"batch", "layer", None}, default="batch"
    """

    def __init__(self, n_atom_features, width=256, n_layers=3, n_rbf=256, rbf_min=-4.0, rbf_max=4.0,
                 n_angle_rbf=40, angle_width=64, norm="batch"):
        super().__init__()
        self.atom_embedding = nn.Linear(n_atom_features, width)
        self.rbf = RadialBasis(rbf_min, rbf_max, n_rbf)
        self.edge_embedding = nn.Sequential(nn.Linear(n_rbf, width), nn.Softplus())
        self.angle_rbf = RadialBasis(-1.0, 1.0, n_angle_rbf)
        self.edge_layers = nn.ModuleList(
            GatedGraphAttention(width, n_angle_rbf, norm, message_width=angle_width) for _ in range(n_layers)
        )
        self.atom_layers = nn.ModuleList(GatedGraphAttention(width, width, norm) for _ in range(n_layers))

    def forward(self, atom_features, edge_index, edge_distance, angle_index, angle_cos):
        """Encode the invariant view: atom states (N, width) and bond states (E, width).

        Parameters
        ----------
        atom_features : Tensor (N, F)
            Atom input features of the batch's N atoms.
        edge_index : LongTensor (2, E)
            Centre and neighbour atom of each bond.
        edge_distance : Tensor (E,)
            Bond lengths (Å).
        angle_index : LongTensor (2, P)
            The two bonds of each angle.
        angle_cos : Tensor (P,)
            Cosine of each angle.

        Returns
        -------
        h : Tensor (N, width)
            Atom states.
        hb : Tensor (E, width)
            Bond states.
        """
        h = self.atom_embedding(atom_features)
        hb = self.edge_embedding(self.rbf(_inverse_distance(edge_distance)))
        a, b = angle_index[0], angle_index[1]
        # the line graph is undirected: bond a hears bond b and b hears a, with the same angle
        line_dst, line_src = torch.cat([a, b]), torch.cat([b, a])
        ang = self.angle_rbf(angle_cos)
        center, neighbor = edge_index[0], edge_index[1]
        for edge_layer, atom_layer in zip(self.edge_layers, self.atom_layers):
            hb = edge_layer(hb, line_dst, line_src, ang, repeat=2)
            h = atom_layer(h, center, neighbor, hb)
        return h, hb


class EquivariantConv(nn.Module):
    """One equivariant message-passing step on ``ns`` scalars and ``nv`` vectors (e3nn).

    ``m_ij = TP(x_j, Y(r̂_ij); w(e_ij))`` with a depth-wise ("uvu") tensor
    product of the neighbour's features and the spherical harmonics of the
    edge direction, per-edge weights from a radial network on the edge
    features; messages are averaged per atom, mixed by an e3nn ``Linear`` and
    passed through a gate (SiLU on scalars, sigmoid-gated vectors), plus a
    linear self-connection.

    Parameters
    ----------
    ns, nv : int
        Scalar (0e) and vector (1o) channels.
    edge_width : int
        Width of the invariant edge features fed to the radial network.
    sh_lmax : int, default=2
        Highest degree of the spherical harmonics (the reference: 2).
    radial_hidden : int, default=64
    """

    def __init__(self, ns, nv, edge_width, sh_lmax=2, radial_hidden=64):
        super().__init__()
        from e3nn import o3
        from e3nn.nn import Gate

        self.irreps_node = o3.Irreps(f"{ns}x0e + {nv}x1o").simplify()
        self.irreps_sh = o3.Irreps.spherical_harmonics(sh_lmax)
        wanted = {o3.Irrep("0e"), o3.Irrep("1o")}
        mids, instructions = [], []
        for i1, (mul, ir1) in enumerate(self.irreps_node):
            for i2, (_, ir2) in enumerate(self.irreps_sh):
                for ir_out in ir1 * ir2:
                    if ir_out in wanted:
                        instructions.append((i1, i2, len(mids), "uvu", True))
                        mids.append((mul, ir_out))
        irreps_mid = o3.Irreps(mids)
        self.tp = o3.TensorProduct(
            self.irreps_node, self.irreps_sh, irreps_mid, instructions, shared_weights=False, internal_weights=False
        )
        self.radial = nn.Sequential(
            nn.Linear(edge_width, radial_hidden), nn.SiLU(), nn.Linear(radial_hidden, self.tp.weight_numel)
        )
        self.gate = Gate(f"{ns}x0e", [F.silu], f"{nv}x0e", [torch.sigmoid], f"{nv}x1o")
        self.mix = o3.Linear(irreps_mid, self.gate.irreps_in)
        self.self_connection = o3.Linear(self.irreps_node, self.irreps_node)

    def forward(self, x, dst, src, sh, edge_features):
        """Compute new node features (N, ns + 3 nv) in the layout of ``irreps_node``.

        Parameters
        ----------
        x : Tensor (N, ns + 3 nv)
            Node features (scalars then vectors).
        dst, src : LongTensor (E,)
            Receiving and sending atom of each edge.
        sh : Tensor (E, n_sh)
            Spherical harmonics of the edge directions.
        edge_features : Tensor (E, n_rbf)
            Radial features of the edge lengths.

        Returns
        -------
        Tensor (N, ns + 3 nv)
            Updated node features.
        """
        m = self.tp(x.index_select(0, src), sh, self.radial(edge_features))
        agg = scatter_mean(m, dst, x.shape[0])
        return self.self_connection(x) + self.gate(self.mix(agg))


class SO3Encoder(nn.Module):
    """The equivariant view: e3nn message passing on scalar and vector channels, invariant read-out.

    Each block: project the ``width`` scalar stream to ``ns`` scalars, join the
    ``nv`` vector channels, one :class:`EquivariantConv`, add the new scalars
    back to the stream (residual), then an invariant
    :class:`GatedGraphAttention` over the distance graph.  The invariant node
    state is the scalar stream plus a linear map of the vector norms.

    Parameters
    ----------
    n_atom_features : int
    width : int, default=256
    n_layers : int, default=3
    ns : int, default=64
        Scalar channels of the equivariant convolution.
    nv : int, default=8
        Vector (l = 1) channels.
    sh_lmax : int, default=2
    n_rbf, rbf_min, rbf_max : see :class:`SE3Encoder`
    norm : {"batch", "layer", None}, default="batch"
    """

    def __init__(self, n_atom_features, width=256, n_layers=3, ns=64, nv=8, sh_lmax=2, n_rbf=256, rbf_min=-4.0,
                 rbf_max=4.0, norm="batch"):
        super().__init__()
        from e3nn import o3

        self.ns, self.nv = ns, nv
        self.irreps_sh = o3.Irreps.spherical_harmonics(sh_lmax)
        self.atom_embedding = nn.Linear(n_atom_features, width)
        self.rbf = RadialBasis(rbf_min, rbf_max, n_rbf)
        self.edge_embedding = nn.Sequential(nn.Linear(n_rbf, width), nn.SiLU())
        self.to_scalars = nn.ModuleList(nn.Linear(width, ns) for _ in range(n_layers))
        self.convs = nn.ModuleList(EquivariantConv(ns, nv, width, sh_lmax, radial_hidden=ns) for _ in range(n_layers))
        self.scalar_norms = nn.ModuleList(make_norm(norm, ns) for _ in range(n_layers))
        self.from_scalars = nn.ModuleList(nn.Linear(ns, width) for _ in range(n_layers))
        self.attention = nn.ModuleList(GatedGraphAttention(width, width, norm) for _ in range(n_layers))
        self.vector_readout = nn.Linear(nv, width)

    def forward(self, atom_features, edge_index, edge_vector):
        """Encode the equivariant view: invariant atom states and vector channels.

        Parameters
        ----------
        atom_features : Tensor (N, F)
            Atom input features of the batch's N atoms.
        edge_index : LongTensor (2, E)
            Centre and neighbour atom of each bond.
        edge_vector : Tensor (E, 3)
            Bond vectors, Cartesian (Å).

        Returns
        -------
        s : Tensor (N, width)
            Invariant atom states.
        v : Tensor (N, nv, 3)
            Vector channels, Cartesian, in the input frame.
        """
        from e3nn import o3

        s = self.atom_embedding(atom_features)
        n = s.shape[0]
        v = s.new_zeros((n, self.nv, 3))
        dist = torch.linalg.norm(edge_vector, dim=1)
        e = self.edge_embedding(self.rbf(_inverse_distance(dist)))
        sh = o3.spherical_harmonics(self.irreps_sh, edge_vector, normalize=True, normalization="component")
        center, neighbor = edge_index[0], edge_index[1]
        for to_s, conv, norm, from_s, att in zip(
            self.to_scalars, self.convs, self.scalar_norms, self.from_scalars, self.attention
        ):
            x = torch.cat([to_s(s), v.reshape(n, 3 * self.nv)], dim=1)
            x = conv(x, center, neighbor, sh, e)
            s_new, v = x[:, : self.ns], x[:, self.ns:].reshape(n, self.nv, 3)
            s = s + F.softplus(from_s(F.softplus(norm(s_new))))
            s = att(s, center, neighbor, e)
        # eps keeps the gradient finite where symmetry forces a vector channel to zero
        norms = torch.sqrt((v * v).sum(-1) + 1e-8)
        return s + self.vector_readout(norms), v


class ProjectionHead(nn.Module):
    """Residual projection of a pooled embedding (the reference's per-view head).

    ``z = x + LayerNorm(SiLU(W2 W1 x))``

    Parameters
    ----------
    width : int
    """

    def __init__(self, width):
        super().__init__()
        self.projection = nn.Linear(width, width)
        self.fc = nn.Linear(width, width)
        self.layer_norm = nn.LayerNorm(width)

    def forward(self, x):
        """Project (B, width) -> (B, width).

        Parameters
        ----------
        x : Tensor (B, width)
            Structure embeddings.

        Returns
        -------
        Tensor (B, width)
            Projected embeddings.
        """
        return x + self.layer_norm(F.silu(self.fc(self.projection(x))))


class MGTBackbone(nn.Module):
    """Both encoders and their projection heads: one embedding per view and structure.

    This is the part a pre-trainer trains and a fine-tuned model starts from
    (``MGT.backbone``, ``MGTPretrainNet.backbone``).

    Parameters
    ----------
    n_atom_features : int
    width : int, default=256
        Atom/bond state and embedding width (the reference's ``fc_features``,
        ``graph_embed_dim`` and ``projection_dim``).
    n_layers : int, default=3
        Blocks per encoder.
    ns, nv : int, default=64, 8
        Scalar and vector channels of the equivariant view.
    sh_lmax : int, default=2
    n_rbf : int, default=256
    rbf_min, rbf_max : float, default=-4.0, 4.0
    n_angle_rbf : int, default=40
    angle_width : int, default=64
        Message channels of the edge-wise (line-graph) layers.
    norm : {"batch", "layer", None}, default="batch"
    """

    def __init__(self, n_atom_features, width=256, n_layers=3, ns=64, nv=8, sh_lmax=2, n_rbf=256, rbf_min=-4.0,
                 rbf_max=4.0, n_angle_rbf=40, angle_width=64, norm="batch"):
        super().__init__()
        rbf = dict(n_rbf=n_rbf, rbf_min=rbf_min, rbf_max=rbf_max)
        self.se3 = SE3Encoder(n_atom_features, width=width, n_layers=n_layers, n_angle_rbf=n_angle_rbf,
                              angle_width=angle_width, norm=norm, **rbf)
        self.so3 = SO3Encoder(n_atom_features, width=width, n_layers=n_layers, ns=ns, nv=nv, sh_lmax=sh_lmax,
                              norm=norm, **rbf)
        self.se3_head = ProjectionHead(width)
        self.so3_head = ProjectionHead(width)

    def forward(self, atom_features, edge_index, edge_distance, edge_vector, angle_index, angle_cos, batch, n_atoms,
                return_states=False):
        """Per-structure embeddings ``(z_se3, z_so3)``, each (B, width).

        With ``return_states=True`` a third element, a dict, holds the atom
        and bond states of the invariant view (``"atoms_se3"``, ``"bonds"``),
        the invariant atom states of the equivariant view (``"atoms_so3"``)
        and its vector channels (``"vectors"``, (N, nv, 3), Cartesian).

        Parameters
        ----------
        atom_features : Tensor (N, F)
            Atom input features of the batch's N atoms.
        edge_index : LongTensor (2, E)
            Centre and neighbour atom of each bond, offset per graph.
        edge_distance : Tensor (E,)
            Bond lengths (Å).
        edge_vector : Tensor (E, 3)
            Bond vectors, Cartesian (Å).
        angle_index : LongTensor (2, P)
            The two bonds of each bond pair (angle), offset per graph.
        angle_cos : Tensor (P,)
            Cosine of each angle.
        batch : LongTensor (N,)
            Graph of each atom.
        n_atoms : LongTensor (B,)
            Atoms per graph.
        return_states : bool, default=False
            Also return the atom/bond states (see above).

        Returns
        -------
        z_se3, z_so3 : Tensor (B, width)
            Per-structure embeddings of the two views.
        states : dict, only with ``return_states``
            Atom and bond states.
        """
        n_graphs = n_atoms.shape[0]
        h, hb = self.se3(atom_features, edge_index, edge_distance, angle_index, angle_cos)
        s, v = self.so3(atom_features, edge_index, edge_vector)
        z_se3 = self.se3_head(scatter_mean(h, batch, n_graphs))
        z_so3 = self.so3_head(scatter_mean(s, batch, n_graphs))
        if return_states:
            return z_se3, z_so3, {"atoms_se3": h, "bonds": hb, "atoms_so3": s, "vectors": v}
        return z_se3, z_so3


class MoERouter(nn.Module):
    """One expert per view, mixed by an attention gate; returns the per-structure view weights.

    Each expert is ``Linear(width, hidden) → GELU → dropout → Linear(hidden,
    n_outputs)`` on its view's embedding.  The gate is one attention head on
    the layer-normalised embeddings: the query is their mean over the views,
    the keys are the embeddings of each view; the softmax of the scores over the views gives weights that are
    positive and sum to one per structure, and the output is the weighted sum
    of the experts' outputs.

    Parameters
    ----------
    width : int
    n_outputs : int
    hidden_dim : int, default=128
    dropout : float, default=0.0
    n_views : int, default=2
    """

    def __init__(self, width, n_outputs, hidden_dim=128, dropout=0.0, n_views=2):
        super().__init__()
        self.experts = nn.ModuleList(
            nn.Sequential(nn.Linear(width, hidden_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden_dim, n_outputs))
            for _ in range(n_views)
        )
        self.gate_norm = nn.LayerNorm(width)
        self.query = nn.Linear(width, hidden_dim)
        self.key = nn.Linear(width, hidden_dim)
        self.scale = 1.0 / math.sqrt(hidden_dim)

    def forward(self, views):
        """Mix the views with per-structure weights and predict.

        Parameters
        ----------
        views : list of Tensor (B, width)
            One embedding per view.

        Returns
        -------
        output : Tensor (B, n_outputs)
            Predictions.
        weights : Tensor (B, n_views)
            Router weights (positive, summing to 1 per structure).
        """
        z = self.gate_norm(torch.stack(list(views), dim=1))
        scores = torch.einsum("bvh,bh->bv", self.key(z), self.query(z.mean(dim=1))) * self.scale
        weights = torch.softmax(scores, dim=1)
        outputs = torch.stack([expert(x) for expert, x in zip(self.experts, views)], dim=1)
        return (weights.unsqueeze(-1) * outputs).sum(dim=1), weights


class MGT(nn.Module):
    """Multi-view geometric transformer: :class:`MGTBackbone` + :class:`MoERouter`.

    Parameters
    ----------
    n_atom_features : int
    n_outputs : int, default=1
    width, n_layers, ns, nv, sh_lmax, n_rbf, rbf_min, rbf_max, n_angle_rbf, angle_width, norm
        See :class:`MGTBackbone` (defaults: 256, 3, 64, 8, 2, 256, -4, 4, 40, 64, "batch").
    hidden_dim : int, default=128
        Hidden width of each expert and of the gate.
    dropout : float, default=0.0
        Dropout in the experts.

    Attributes
    ----------
    backbone : MGTBackbone
        The shared encoders (what pre-training trains).
    router : MoERouter
    """

    def __init__(self, n_atom_features, n_outputs=1, width=256, n_layers=3, ns=64, nv=8, sh_lmax=2, n_rbf=256,
                 rbf_min=-4.0, rbf_max=4.0, n_angle_rbf=40, angle_width=64, hidden_dim=128, dropout=0.0,
                 norm="batch"):
        super().__init__()
        self.backbone = MGTBackbone(n_atom_features, width=width, n_layers=n_layers, ns=ns, nv=nv, sh_lmax=sh_lmax,
                                    n_rbf=n_rbf, rbf_min=rbf_min, rbf_max=rbf_max, n_angle_rbf=n_angle_rbf,
                                    angle_width=angle_width, norm=norm)
        self.router = MoERouter(width, n_outputs, hidden_dim, dropout, n_views=len(VIEWS))

    def forward(self, atom_features, edge_index, edge_distance, edge_vector, angle_index, angle_cos, batch, n_atoms,
                return_weights=False):
        """Predict from a :func:`~skcrystal.nn.data.collate_dual_views` batch.

        Parameters
        ----------
        atom_features : Tensor (N, F)
            Atom input features of the batch's N atoms.
        edge_index : LongTensor (2, E)
            Centre and neighbour atom of each bond, offset per graph.
        edge_distance : Tensor (E,)
            Bond lengths (Å).
        edge_vector : Tensor (E, 3)
            Bond vectors, Cartesian (Å).
        angle_index : LongTensor (2, P)
            The two bonds of each bond pair (angle), offset per graph.
        angle_cos : Tensor (P,)
            Cosine of each angle.
        batch : LongTensor (N,)
            Graph of each atom.
        n_atoms : LongTensor (B,)
            Atoms per graph.
        return_weights : bool, default=False
            Also return the router weights.

        Returns
        -------
        tensor of shape (B, n_outputs)
            And, with ``return_weights=True``, the router weights (B, 2) in
            the order of :data:`VIEWS`.
        """
        z = self.backbone(atom_features, edge_index, edge_distance, edge_vector, angle_index, angle_cos, batch,
                          n_atoms)
        out, weights = self.router(z)
        return (out, weights) if return_weights else out


def nt_xent(z1, z2, temperature=0.1):
    """NT-Xent (SimCLR) loss: row ``b`` of ``z1`` and row ``b`` of ``z2`` are the positive pair.

    Every other row of either view in the batch is a negative.  The cosine
    similarities of the 2B normalised embeddings, divided by the temperature,
    are scored with a cross-entropy towards the positive.

    Parameters
    ----------
    z1, z2 : tensor of shape (B, d)
        The two views' embeddings of the same B structures, in the same order.
    temperature : float, default=0.1

    Returns
    -------
    scalar tensor
    """
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)
    sim = z @ z.t() / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


def _mse(pred, target):
    if pred.numel() == 0:
        return pred.sum() * 0.0
    return F.mse_loss(pred, target)


class MGTPretrainNet(nn.Module):
    """Self-supervised pre-training of :class:`MGTBackbone`: two denoising tasks and one contrastive task.

    Each forward pass draws fresh noise (from torch's RNG):

    * **angle denoising** (invariant view): every bond angle θ becomes
      θ + ε, ε ~ N(0, ``angle_noise``²) rad; a head on the two final bond
      states of each angle and its noisy value predicts ε / ``angle_noise``
      (MSE; 1 = no skill);
    * **edge-vector denoising** (equivariant view): every atom moves by
      η ~ N(0, ``vector_noise``² I) Å, so each edge vector gains
      η_j − η_i; an equivariant head (scalar coefficients from the two atoms'
      invariant states times their vector channels and the edge direction)
      predicts it, scaled by 1 / (``vector_noise`` √2) (MSE per component;
      1 = no skill);
    * **contrastive**: :func:`nt_xent` between the invariant and the
      equivariant embeddings of the (noised) structures.

    ``forward`` returns the three loss terms in a dict; :meth:`embed` gives
    the clean embedding of each structure (both views concatenated).

    Parameters
    ----------
    n_atom_features : int
    width, n_layers, ns, nv, sh_lmax, n_rbf, rbf_min, rbf_max, n_angle_rbf, angle_width, norm
        The backbone's (see :class:`MGTBackbone`).
    angle_noise : float, default=0.15
        Standard deviation of the angle noise (rad); the reference adds 0.15 to the cosines.
    vector_noise : float, default=0.1
        Standard deviation of the atomic displacements (Å).
    temperature : float, default=0.1
        NT-Xent temperature.

    Attributes
    ----------
    backbone : MGTBackbone
    embedding_width : int
        ``2 * width`` (the two views' embeddings side by side).
    """

    def __init__(self, n_atom_features, width=256, n_layers=3, ns=64, nv=8, sh_lmax=2, n_rbf=256, rbf_min=-4.0,
                 rbf_max=4.0, n_angle_rbf=40, angle_width=64, norm="batch", angle_noise=0.15, vector_noise=0.1,
                 temperature=0.1):
        super().__init__()
        self.backbone = MGTBackbone(n_atom_features, width=width, n_layers=n_layers, ns=ns, nv=nv, sh_lmax=sh_lmax,
                                    n_rbf=n_rbf, rbf_min=rbf_min, rbf_max=rbf_max, n_angle_rbf=n_angle_rbf,
                                    angle_width=angle_width, norm=norm)
        self.nv = nv
        self.embedding_width = 2 * width
        self.angle_noise = float(angle_noise)
        self.vector_noise = float(vector_noise)
        self.temperature = float(temperature)
        self.angle_head = nn.Sequential(nn.Linear(2 * width + n_angle_rbf, width), nn.SiLU(), nn.Linear(width, 1))
        self.vector_head = nn.Sequential(nn.Linear(2 * width, width), nn.SiLU(), nn.Linear(width, 2 * nv + 1))

    def embed(self, atom_features, edge_index, edge_distance, edge_vector, angle_index, angle_cos, batch, n_atoms):
        """Embed each structure without noise: ``[z_se3, z_so3]``.

        Parameters
        ----------
        atom_features : Tensor (N, F)
            Atom input features of the batch's N atoms.
        edge_index : LongTensor (2, E)
            Centre and neighbour atom of each bond, offset per graph.
        edge_distance : Tensor (E,)
            Bond lengths (Å).
        edge_vector : Tensor (E, 3)
            Bond vectors, Cartesian (Å).
        angle_index : LongTensor (2, P)
            The two bonds of each bond pair (angle), offset per graph.
        angle_cos : Tensor (P,)
            Cosine of each angle.
        batch : LongTensor (N,)
            Graph of each atom.
        n_atoms : LongTensor (B,)
            Atoms per graph.

        Returns
        -------
        Tensor (B, 2 width)
            The two views' embeddings side by side.
        """
        z_se3, z_so3 = self.backbone(atom_features, edge_index, edge_distance, edge_vector, angle_index, angle_cos,
                                     batch, n_atoms)
        return torch.cat([z_se3, z_so3], dim=1)

    def forward(self, atom_features, edge_index, edge_distance, edge_vector, angle_index, angle_cos, batch, n_atoms):
        """Compute the pretraining loss terms of one batch.

        Parameters
        ----------
        atom_features : Tensor (N, F)
            Atom input features of the batch's N atoms.
        edge_index : LongTensor (2, E)
            Centre and neighbour atom of each bond, offset per graph.
        edge_distance : Tensor (E,)
            Bond lengths (Å).
        edge_vector : Tensor (E, 3)
            Bond vectors, Cartesian (Å).
        angle_index : LongTensor (2, P)
            The two bonds of each bond pair (angle), offset per graph.
        angle_cos : Tensor (P,)
            Cosine of each angle.
        batch : LongTensor (N,)
            Graph of each atom.
        n_atoms : LongTensor (B,)
            Atoms per graph.

        Returns
        -------
        dict of str -> Tensor
            The scalar terms ``"contrastive"``, ``"angle"`` and ``"vector"``.
        """
        center, neighbor = edge_index[0], edge_index[1]
        eps = torch.randn_like(angle_cos) * self.angle_noise
        angle_cos = torch.cos(torch.arccos(angle_cos.clamp(-1.0, 1.0)) + eps)
        eta = torch.randn(atom_features.shape[0], 3, dtype=edge_vector.dtype, device=edge_vector.device)
        delta = (eta.index_select(0, neighbor) - eta.index_select(0, center)) * self.vector_noise
        edge_vector = edge_vector + delta
        z_se3, z_so3, st = self.backbone(atom_features, edge_index, edge_distance, edge_vector, angle_index,
                                         angle_cos, batch, n_atoms, return_states=True)
        hb = st["bonds"]
        a, b = hb.index_select(0, angle_index[0]), hb.index_select(0, angle_index[1])
        noisy = self.backbone.se3.angle_rbf(angle_cos)
        pred_angle = self.angle_head(torch.cat([a + b, a * b, noisy], dim=1)).squeeze(1)
        s, v = st["atoms_so3"], st["vectors"]
        coef = self.vector_head(torch.cat([s.index_select(0, center), s.index_select(0, neighbor)], dim=1))
        unit = edge_vector / torch.linalg.norm(edge_vector, dim=1, keepdim=True).clamp(min=1e-6)
        pred_vec = (
            torch.einsum("ec,ecx->ex", coef[:, : self.nv], v.index_select(0, neighbor))
            + torch.einsum("ec,ecx->ex", coef[:, self.nv: 2 * self.nv], v.index_select(0, center))
            + coef[:, -1:] * unit
        )
        return {
            "contrastive": nt_xent(z_se3, z_so3, self.temperature),
            "angle": _mse(pred_angle, eps / self.angle_noise),
            "vector": _mse(pred_vec, delta / (self.vector_noise * math.sqrt(2.0))),
        }

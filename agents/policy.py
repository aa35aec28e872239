"""The paper's unmasking policy (arXiv 2512.09106, Sec. 3): a one-block transformer over the answer positions.

Each answer position's features (by default the paper's three: confidence, masked flag, step fraction) go through
a linear embedding, one transformer block with rotary position embeddings (RoPE) whose normalisations are
adaLN-modulated by the position's mask flag and the step fraction (as DiT conditions on its timestep), and a
linear head to one logit per position. ``LearnedPolicy`` wraps a network into the callable ``obs -> action`` that
envs, ``evaluate`` and ``load_policy`` use.

Shapes: N rows, L answer positions, F input features, D the dLLM's hidden size, d the policy width, H heads.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from unmask_gym.heuristics import as_batched_tensors, in_kind, token_agreement, uncertain_positions

from .distribution import NOISES, expected_commits, sample_action

TOKEN_FEATURES = ("token_count", "token_mass", "token_rank")
"""Features read from which selectable positions predict the same token (``unmask_gym.heuristics.token_agreement``)."""
ROW_FEATURE = "uncertain"
"""The row's masked positions below 0.9 confidence, / L, at every position (``unmask_gym.heuristics.
uncertain_positions``, the count the ``give_up`` rule decides on): how much of the answer the dLLM's picture leaves
open, one number per row that one attention layer would otherwise have to count."""
SCALAR_FEATURES = ("confidence", "masked", "step_frac", "margin", "entropy", "action_mask", "end_token",
                   *TOKEN_FEATURES, ROW_FEATURE)
"""Features of one number per position, embedded linearly; ``"hidden"`` (the dLLM's last hidden state, D numbers)
and ``"token_equality"`` are the others."""
EQUALITY_FEATURE = "token_equality"
"""Which answer positions show the same token (the committed one, or the prediction where masked): each attention
head adds a learned bias to the scores of such pairs, so a position can see, with RoPE's relative positions, where
else its token is predicted or written (a Sudoku digit twice in a column). Read through equality only, so it means
the same with any vocabulary. Rollouts carry it as the token id, one float column of the features (exact below
2^24 ids)."""
POSITION_FEATURE = "position"
"""Where each answer position is: a learned embedding per absolute position (GPT-2's), added to the embedded
features, so attention's values carry where a position is as well as what it shows (with ``token_equality``, a
position can read where else its token is predicted: the same Sudoku row, column or box). RoPE alone gives relative
offsets to the scores only. Ties the policy to answers of at most ``num_positions`` positions."""
FEATURES = (*SCALAR_FEATURES, "hidden", EQUALITY_FEATURE, POSITION_FEATURE)
"""Every name ``PolicyConfig.features`` accepts."""
NEEDS_HIDDEN = "this policy reads the 'hidden' observation: build the env with observe_hidden=True"


@dataclass
class PolicyConfig:
    """The policy network's settings (saved with every checkpoint).

    Example:
        >>> config = PolicyConfig(features=("confidence", "masked", "step_frac", "margin"), width=64)
        >>> config.num_inputs, UnmaskingPolicy(config).num_parameters() > 0
        (4, True)
    """

    features: tuple[str, ...] = ("confidence", "masked", "step_frac")
    """Per-position inputs: any of ``FEATURES`` (``"hidden"`` needs the env's ``observe_hidden``)."""
    width: int = 128
    """d, the model width (the paper's 128: ~330K parameters)."""
    num_heads: int = 2
    """Attention heads (the paper: 2)."""
    ff_width: int = 512
    """Hidden width of the feed-forward layer (the paper: 512)."""
    init_bias: float = -2.0
    """Output bias at init: sigmoid(-2) = 0.12, so the policy starts by committing little (slow and accurate)."""
    rope_base: float = 10000.0
    """RoPE frequency base."""
    architecture: str = "adaln"
    """"adaln": the paper's block (RoPE attention, norms modulated by the mask flag and step fraction); "plain": a
    pre-LN transformer block without position encoding that reads the mask flag and step fraction (and alpha) as
    inputs beside the features (the recipe study's plain REINFORCE network)."""
    commit_noise: str = "independent"
    """How a step's commits are drawn from the per-position probabilities: "independent", a Bernoulli each (the
    paper's); "shared", one uniform per row against every position's probability, a random threshold on the logits
    that commits the top-k positions (the same probability per position, but the whole answer in one pass with
    probability min p instead of prod p). ``agents/distribution.py``."""
    tau_train: float = 1.0
    """Sampling temperature of the logits in training (the paper: 1)."""
    tau_eval: float | None = None
    """Sampling temperature at evaluation; None: the paper's, 0.5 with semi-AR blocks, 1 without (the trainer
    resolves it from its env and stores the number)."""
    hidden_size: int = 0
    """D of the ``hidden`` feature (the trainer reads it from the env); 0 without it."""
    end_token_ids: tuple[int, ...] = ()
    """The dLLM's end tokens, for the ``end_token`` feature (1 where the predicted token ends the answer)."""
    num_positions: int = 0
    """The answer positions the ``position`` feature embeds: the env's L (the trainer reads it); 0 without it."""
    alpha_range: tuple[float, ...] | None = None
    """None: a policy for the one alpha it is trained with. (low, high): a trade-off-conditioned policy that reads
    the reward exponent alpha as an input (log-scaled, through the adaLN conditioning) and serves any alpha in the
    range; the trainer samples one per prompt group, ``LearnedPolicy.alpha`` sets it at evaluation."""
    beta_input: bool = False
    """Whether the network reads the beta its commit probabilities are scaled by (log2 beta, a condition like alpha):
    trained at several (``GRPOConfig.train_betas``), it can act differently at each, e.g. offer only the positions
    that are safe to commit in any subset when beta < 1 makes every commit a coin flip. ``LearnedPolicy.beta`` is
    its input at evaluation. Training draws betas in (0, 1] only, so a beta above 1 reads as 1 (log2 min(beta, 1)):
    there the network acts as at beta 1 and the knob alone scales its commits, never an extrapolated input."""
    beta_head: bool = False
    """With ``beta_input``: a second head, 0 at the start, whose logit times log2 min(beta, 1) is added to each
    position's commit logit. Below beta 1 it corrects each position from everything the network has read, where the
    beta column of the conditioning can only move all of them through the adaLN; at beta 1 it adds exactly 0."""
    seed: int = 0
    """Seed of the parameter initialisation (drawn from a private generator: the global RNG is untouched)."""

    def __post_init__(self) -> None:
        self.features = tuple(self.features)
        self.end_token_ids = tuple(int(token) for token in self.end_token_ids)
        if self.alpha_range is not None:
            try:
                self.alpha_range = tuple(float(value) for value in self.alpha_range)
            except (TypeError, ValueError):
                raise ValueError(f"alpha_range must be two numbers (low, high), got {self.alpha_range!r}") from None
            if len(self.alpha_range) != 2 or not 0 < self.alpha_range[0] < self.alpha_range[1] < math.inf:
                raise ValueError(f"alpha_range must be (low, high) with 0 < low < high, got {self.alpha_range!r}")
        unknown = [name for name in self.features if name not in FEATURES]
        if unknown or not self.features or len(set(self.features)) != len(self.features):
            raise ValueError(f"features must be distinct names from {FEATURES}, got {self.features!r}")
        if not any(name in SCALAR_FEATURES or name == "hidden" for name in self.features):
            raise ValueError(f"features {self.features!r} only modify what the network reads per position: name at "
                             f"least one of {(*SCALAR_FEATURES, 'hidden')} too")
        if self.commit_noise not in NOISES:
            raise ValueError(f"commit_noise must be one of {NOISES}, got {self.commit_noise!r}")
        if self.architecture not in ("adaln", "plain"):
            raise ValueError(f"architecture must be 'adaln' or 'plain', got {self.architecture!r}")
        if self.width % (2 * self.num_heads):
            raise ValueError(f"width={self.width} must be a multiple of 2 * num_heads={2 * self.num_heads} (RoPE)")
        if self.beta_head and not self.beta_input:
            raise ValueError("beta_head corrects the logits by the beta the network reads: it needs beta_input=True")
        for name in ("tau_train", "tau_eval"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0, got {value}")

    @property
    def evaluation_tau(self) -> float:
        """``tau_eval``, or 1 while it is unresolved."""
        return 1.0 if self.tau_eval is None else self.tau_eval

    @property
    def conditioned(self) -> bool:
        """Whether the network reads alpha (``alpha_range`` is set)."""
        return self.alpha_range is not None

    def alpha_code(self, alpha: torch.Tensor) -> torch.Tensor:
        """The network's alpha input: log(alpha) mapped from log(alpha_range) to [-1, 1] (a ratio scale)."""
        low, high = (math.log(value) for value in self.alpha_range)
        return (2 * (alpha.float().log() - low) / (high - low) - 1).clamp(-1.5, 1.5)

    def check_alpha(self, alpha: Any) -> float:
        """``alpha`` as a float, if this conditioned policy was trained for it.

        Raises:
            ValueError: for an unconditioned policy, or an alpha outside ``alpha_range``.
        """
        if not self.conditioned:
            raise ValueError("this policy was trained for one alpha (alpha_range is None); it takes no alpha input")
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not math.isfinite(alpha):
            raise ValueError(f"alpha must be a finite number, got {alpha!r}")
        low, high = self.alpha_range
        if not low <= alpha <= high:
            raise ValueError(f"alpha must lie in the range the policy was trained on, [{low:g}, {high:g}], got {alpha}")
        return float(alpha)

    @property
    def num_conditions(self) -> int:
        """Numbers per position in the adaLN conditioning: ``condition_columns``."""
        return len(self.condition_columns)

    @property
    def condition_columns(self) -> tuple[str, ...]:
        """What each condition column holds: mask flag, step fraction, alpha when conditioned, beta with beta_input."""
        return ("masked", "step_frac", *(["alpha"] if self.conditioned else []), *(["beta"] if self.beta_input else []))

    @property
    def num_inputs(self) -> int:
        """F, the numbers per position fed to the input embedding (``token_equality``'s column is not one)."""
        return len(self.input_columns)

    @property
    def input_columns(self) -> tuple[str, ...]:
        """The feature each of the input embedding's F columns reads, in order (``hidden`` D times)."""
        columns: list[str] = []
        for name in self.features:
            if name in SCALAR_FEATURES:
                columns.append(name)
            elif name == "hidden":
                columns += [name] * self.hidden_size
        return tuple(columns)

    @property
    def position(self) -> bool:
        """Whether the network embeds each answer position's index (``POSITION_FEATURE``)."""
        return POSITION_FEATURE in self.features

    @property
    def token_equality(self) -> bool:
        """Whether attention reads which positions show the same token (``EQUALITY_FEATURE``)."""
        return EQUALITY_FEATURE in self.features

    def check_resolved(self) -> None:
        """Raises unless the env-dependent fields that the features need are filled (the trainer fills them)."""
        if "hidden" in self.features and self.hidden_size < 1:
            raise ValueError("the 'hidden' feature needs hidden_size >= 1 (the dLLM's hidden size D)")
        if "end_token" in self.features and not self.end_token_ids:
            raise ValueError("the 'end_token' feature needs end_token_ids (the dLLM's end_token_ids)")
        if self.position and self.num_positions < 1:
            raise ValueError("the 'position' feature needs num_positions >= 1 (the answer positions L it embeds)")

    def check_compatible(self, env: Any) -> None:
        """Raises a ValueError, naming what differs, where ``env``'s observations are not what this network reads.

        The answer length against the ``position`` feature's ``num_positions``, the ``hidden`` observation and
        its size D, and the dLLM's end tokens against the ``end_token`` feature's. ``env``: a vector env, a
        single env or a wrapper of either. Nothing about the env changes, so a mismatch is refused before a reset
        runs the dLLM (SB3's ``check_for_correct_spaces`` plays this part when a model meets an env).
        """
        base = getattr(env, "unwrapped", env)
        space = getattr(base, "single_observation_space", None) or base.observation_space
        length = space["masked"].shape[0]
        if self.position and length > self.num_positions:
            raise ValueError(f"this policy embeds {self.num_positions} answer positions (the 'position' feature), "
                             f"the env's answers have {length}: use an env with answer_length <= "
                             f"{self.num_positions}")  # fmt: skip
        if "hidden" in self.features:
            if "hidden" not in space.spaces:
                raise ValueError(NEEDS_HIDDEN)
            if space["hidden"].shape[-1] != self.hidden_size:
                raise ValueError(f"this policy reads hidden states of size {self.hidden_size} (the dLLM it trained "
                                 f"on), the env's dLLM has {space['hidden'].shape[-1]}")  # fmt: skip
        model = getattr(base, "model", None)
        if "end_token" in self.features and model is not None:
            env_ends = tuple(sorted(int(token) for token in model.end_token_ids))
            if env_ends != tuple(sorted(self.end_token_ids)):
                raise ValueError(f"this policy's 'end_token' feature marks the end tokens {self.end_token_ids} of the "
                                 f"dLLM it trained on; the env's dLLM ends answers with {env_ends}")  # fmt: skip

    def resolved_for(self, env: Any, seed: int) -> PolicyConfig:
        """This config with what a trainer reads from its env (seed, dLLM, tau_eval, answer length).

        The seed, the dLLM's hidden size and end tokens, and the answer length where the ``position`` feature needs it.

        An unset ``tau_eval`` becomes the paper's evaluation temperature: 0.5 with semi-AR blocks, 1 otherwise.
        """
        tau_eval = self.tau_eval if self.tau_eval is not None else (1.0 if env.block_length is None else 0.5)
        return dataclasses.replace(self, seed=seed, hidden_size=env.hidden_size, tau_eval=tau_eval,
                                   end_token_ids=tuple(sorted(env.model.end_token_ids)),
                                   num_positions=env.answer_length if self.position else 0)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly fields (tuples become lists)."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}


def alpha_grid(alpha_range: tuple[float, ...], points: int = 6) -> list[float]:
    """``points`` alphas spread log-evenly over ``alpha_range``, ends included, rounded to 3 significant digits.

    Where ``unmask-gym train`` and ``unmask-gym bench`` evaluate a conditioned policy.

    Example:
        >>> alpha_grid((1.0, 16.0), points=5)
        [1.0, 2.0, 4.0, 8.0, 16.0]
    """
    low, high = alpha_range
    return [float(f"{low * (high / low) ** (index / (points - 1)):.3g}") for index in range(points)]


def policy_inputs(obs: dict[str, torch.Tensor], config: PolicyConfig, alpha: torch.Tensor | float | None = None,
                  beta: torch.Tensor | float | None = None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """What the network reads from an observation: ``features`` (N, L, F) and ``condition`` (N, L, C).

    ``condition`` is (mask flag, step fraction) per position, the adaLN conditioning, plus the coded alpha for a
    conditioned policy (``alpha``: one number or one per row, required then) and log2 min(``beta``, 1) with
    ``beta_input`` (one number or one per row; None: 1). With ``token_equality`` the
    features' last column is each position's token id (the network compares it, it does not embed it). Rollouts
    store these two tensors, so a policy update never needs the dLLM again.
    """
    masked = obs["masked"]
    if config.conditioned and alpha is None:
        raise ValueError("a conditioned policy (alpha_range set) needs the alpha it should serve")
    if "hidden" in config.features and "hidden" not in obs:
        raise ValueError(NEEDS_HIDDEN)
    step_frac = obs["step_frac"].float().expand(masked.shape)  # (N, 1) -> (N, L)
    # One O(N L^2) pass serves every token feature of the config.
    agreement = token_agreement(obs) if set(config.features) & set(TOKEN_FEATURES) else {}
    columns = []
    for name in config.features:
        if name == "step_frac":
            columns.append(step_frac[..., None])
        elif name == ROW_FEATURE:
            columns.append((uncertain_positions(obs) / masked.shape[1])[:, None, None].expand(*masked.shape, 1))
        elif name == "end_token":
            end_tokens = torch.tensor(config.end_token_ids, device=masked.device)
            columns.append(torch.isin(obs["pred_token"], end_tokens).float()[..., None])
        elif name in TOKEN_FEATURES:
            columns.append(agreement[name][..., None])
        elif name == "hidden":
            columns.append(obs["hidden"].float())  # (N, L, D)
        elif name in (EQUALITY_FEATURE, POSITION_FEATURE):
            continue  # token ids: the last column, whatever its place in the list (below); positions: the index
        else:
            columns.append(obs[name].float()[..., None])
    if config.token_equality:
        columns.append(obs["pred_token"].float()[..., None])  # ids, compared for equality only
    conditions = [masked.float(), step_frac]
    if config.conditioned:
        alpha = torch.as_tensor(alpha, device=masked.device).float().reshape(-1, 1)  # (1 or N, 1)
        conditions.append(config.alpha_code(alpha).expand(masked.shape))
    if config.beta_input:
        beta = torch.as_tensor(1.0 if beta is None else beta, device=masked.device).float().reshape(-1, 1)
        conditions.append(beta.clamp(max=1.0).log2().expand(masked.shape))  # betas > 1 are never trained
    return torch.cat(columns, dim=-1), torch.stack(conditions, dim=-1)  # (N, L, F), (N, L, C)


def rotary_tables(length: int, head_width: int, base: float, device: torch.device) -> tuple[torch.Tensor, ...]:
    """The RoPE tables: cos and sin (L, head_width / 2) of the angles position * base^(-2i / head_width)."""
    frequencies = base ** (-torch.arange(0, head_width, 2, device=device).float() / head_width)
    angles = torch.arange(length, device=device).float()[:, None] * frequencies[None, :]
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotates each (even, odd) pair of x (N, H, L, head_width) by its position's angle."""
    even, odd = x[..., 0::2], x[..., 1::2]
    return torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1).flatten(-2)


class RotarySelfAttention(nn.Module):
    """Bidirectional multi-head self-attention over the answer positions, with RoPE on queries and keys."""

    def __init__(self, config: PolicyConfig, rope: bool = True) -> None:
        super().__init__()
        self.num_heads, self.rope_base, self.rope = config.num_heads, config.rope_base, rope
        self.qkv = nn.Linear(config.width, 3 * config.width)
        self.out = nn.Linear(config.width, config.width)
        # token_equality: each head's score bias for a pair showing the same token is linear in the query
        # position's input (a bare scalar would move by about the learning rate per Adam step: far too slowly to
        # reach the few units a score needs). Zero at init: the feature has no effect until training moves it.
        self.equality_bias = nn.Linear(config.width, config.num_heads) if config.token_equality else None
        if self.equality_bias is not None:
            nn.init.zeros_(self.equality_bias.weight)
            nn.init.zeros_(self.equality_bias.bias)

    def forward(self, x: torch.Tensor, same_token: torch.Tensor | None = None) -> torch.Tensor:
        """Attends: (N, L, d) -> (N, L, d); ``same_token`` (N, L, L) bool is needed with ``token_equality``."""
        rows, length, width = x.shape
        q, k, v = self.qkv(x).view(rows, length, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)  # 3 x (N, H, L, d/H)
        if self.rope:
            cos, sin = rotary_tables(length, q.shape[-1], self.rope_base, x.device)
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        bias = None
        if self.equality_bias is not None:  # (N, H, L, 1) per query position and head, where j shows i's token
            bias = self.equality_bias(x).transpose(1, 2)[..., None] * same_token[:, None].to(q.dtype)  # (N, H, L, L)
        y = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias)  # (N, H, L, d/H), all see all
        return self.out(y.transpose(1, 2).reshape(rows, length, width))


def feed_forward(config: PolicyConfig) -> nn.Sequential:
    """A block's MLP: width -> ff_width -> width with a tanh-approximated GELU."""
    return nn.Sequential(
        nn.Linear(config.width, config.ff_width),
        nn.GELU(approximate="tanh"),
        nn.Linear(config.ff_width, config.width),
    )


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: a normalised x (N, L, d) shifted and scaled per position."""
    return x * (1 + scale) + shift


class AdaLNBlock(nn.Module):
    """Pre-norm transformer block whose norms are modulated by the conditioning (DiT's adaLN-Zero)."""

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        self.norm_attention = nn.LayerNorm(config.width, elementwise_affine=False, eps=1e-6)
        self.attention = RotarySelfAttention(config)
        self.norm_mlp = nn.LayerNorm(config.width, elementwise_affine=False, eps=1e-6)
        self.mlp = feed_forward(config)
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(config.width, 6 * config.width))
        # adaLN-Zero: zero shift, scale and gates, so the block starts as the identity and training stays stable.
        nn.init.zeros_(self.modulation[1].weight)
        nn.init.zeros_(self.modulation[1].bias)

    def forward(self, x: torch.Tensor, condition: torch.Tensor, same_token: torch.Tensor | None = None) -> torch.Tensor:
        """x, condition (N, L, d) -> (N, L, d)."""
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = self.modulation(condition).chunk(6, dim=-1)
        x = x + gate_a * self.attention(modulate(self.norm_attention(x), shift_a, scale_a), same_token)
        return x + gate_m * self.mlp(modulate(self.norm_mlp(x), shift_m, scale_m))


class PlainBlock(nn.Module):
    """A pre-LN transformer block: attention without position encoding, then an MLP (``architecture="plain"``)."""

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        self.norm_attention = nn.LayerNorm(config.width)
        self.attention = RotarySelfAttention(config, rope=False)
        self.norm_mlp = nn.LayerNorm(config.width)
        self.mlp = feed_forward(config)

    def forward(self, x: torch.Tensor, same_token: torch.Tensor | None = None) -> torch.Tensor:
        """Attention, then the MLP, each on the normalised input and added to it: (N, L, d) -> (N, L, d)."""
        x = x + self.attention(self.norm_attention(x), same_token)
        return x + self.mlp(self.norm_mlp(x))


class UnmaskingPolicy(nn.Module):
    """The network: features (N, L, F) and condition (N, L, C) -> one logit per position (N, L)."""

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        config.check_resolved()
        self.config = config
        with torch.random.fork_rng(devices=[]):  # a private seed: the caller's global RNG stays as it was
            torch.manual_seed(config.seed)
            if config.architecture == "plain":  # the conditions are inputs like the features
                self.embed = nn.Linear(config.num_inputs + config.num_conditions, config.width)
                self.block = PlainBlock(config)
                self.norm_out = nn.LayerNorm(config.width)
            else:
                self.embed = nn.Linear(config.num_inputs, config.width)
                self.condition_embed = nn.Sequential(
                    nn.Linear(config.num_conditions, config.width), nn.SiLU(), nn.Linear(config.width, config.width)
                )
                self.block = AdaLNBlock(config)
                self.norm_out = nn.LayerNorm(config.width, elementwise_affine=False, eps=1e-6)
                self.modulation_out = nn.Sequential(nn.SiLU(), nn.Linear(config.width, 2 * config.width))
            self.head = nn.Linear(config.width, 1)
            # Created last, so the other parameters draw the same initial values with and without it. torch's
            # N(0, 1) init, at the embedded features' scale: Adam moves a weight by about the learning rate per step,
            # far too slowly to grow GPT-2's 0.02 into a signal in a few hundred updates.
            self.position_embed = nn.Embedding(config.num_positions, config.width) if config.position else None
            self.beta_head = nn.Linear(config.width, 1) if config.beta_head else None
        if self.beta_head is not None:  # starts without effect at any beta
            nn.init.zeros_(self.beta_head.weight)
            nn.init.zeros_(self.beta_head.bias)
        if config.architecture == "adaln":
            nn.init.zeros_(self.modulation_out[1].weight)
            nn.init.zeros_(self.modulation_out[1].bias)
        # Head weight 0 and bias -2: every position starts at p = sigmoid(-2) = 0.12, a cautious policy that
        # commits about one position in eight per pass and learns to commit more only where it pays.
        nn.init.zeros_(self.head.weight)
        nn.init.constant_(self.head.bias, config.init_bias)

    def forward(self, features: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Logits (N, L) of committing each position."""
        hidden = self.hidden(features, condition)
        logits = self.head(hidden).squeeze(-1)
        if self.beta_head is not None:  # the last condition is log2 min(beta, 1): 0 at beta 1, where it adds 0
            logits = logits + condition[..., -1] * self.beta_head(hidden).squeeze(-1)
        return logits

    def hidden(self, features: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """(N, L, d): each position's representation before the head (PPO's value head reads it too)."""
        same_token = None
        if self.config.token_equality:  # the last column leaves the features: it only biases attention
            tokens, features = features[..., -1], features[..., :-1]  # (N, L), (N, L, F)
            same_token = tokens[:, :, None] == tokens[:, None, :]  # (N, L, L)
        if self.config.architecture == "plain":
            x = self.embed(torch.cat([features, condition], dim=-1))
            return self.norm_out(self.block(self.with_positions(x), same_token))
        c = self.condition_embed(condition)  # (N, L, d)
        x = self.block(self.with_positions(self.embed(features)), c, same_token)  # (N, L, d)
        shift, scale = self.modulation_out(c).chunk(2, dim=-1)
        return modulate(self.norm_out(x), shift, scale)

    def with_positions(self, x: torch.Tensor) -> torch.Tensor:
        """Adds each position's embedding to x (N, L, d) with the ``position`` feature; x itself without it."""
        if self.position_embed is None:
            return x
        length = x.shape[1]
        if length > self.config.num_positions:
            raise ValueError(f"this policy embeds {self.config.num_positions} answer positions ('position' feature), "
                             f"got an answer of {length}")
        return x + self.position_embed.weight[:length]

    def logits(self, obs: dict[str, torch.Tensor], alpha: torch.Tensor | float | None = None,
               beta: torch.Tensor | float | None = None) -> torch.Tensor:  # fmt: skip
        """Logits (N, L) for an observation (and the alpha a conditioned policy should serve, the beta it reads)."""
        return self(*policy_inputs(obs, self.config, alpha, beta))

    def num_parameters(self) -> int:
        """Trainable parameter count."""
        return sum(parameter.numel() for parameter in self.parameters())


class LearnedPolicy:
    """A trained network as the callable ``obs -> action`` (torch in, bool torch out, on the obs' device).

    At evaluation it samples p' = min(1, beta * sigmoid(logit / tau_eval)) per selectable position from its own
    generator (seeded, so an evaluation reproduces; ``reseed()`` restarts it) and commits the highest-logit
    selectable position when the sample is empty. ``beta`` moves along the accuracy-NFE front without retraining
    (beta > 1: more commits per pass, fewer passes). A trade-off-conditioned network (``config.alpha_range``) also
    takes ``alpha``, the reward exponent it should serve (higher: fewer passes); it defaults to the trained
    ``env_kwargs["alpha"]`` and can be set at any time (``policy.alpha = 6``). ``env_kwargs`` are the MDP settings
    it was trained for.

    Example:
        >>> policy = LearnedPolicy(UnmaskingPolicy(PolicyConfig(width=16)), env_kwargs={"task": "addition"})
        >>> obs = {"confidence": torch.rand(2, 4), "masked": torch.ones(2, 4, dtype=torch.bool),
        ...        "action_mask": torch.tensor([[True] * 4, [False, True, False, False]]),
        ...        "step_frac": torch.zeros(2, 1)}
        >>> policy(obs)[1].tolist()  # one selectable position: the fallback takes it if the sample is empty
        [False, True, False, False]
    """

    def __init__(self, network: UnmaskingPolicy, env_kwargs: dict[str, Any] | None = None, beta: float = 1.0,
                 seed: int = 0, name: str = "learned_policy", alpha: float | None = None) -> None:  # fmt: skip
        self.network = network.eval()
        self.env_kwargs = dict(env_kwargs or {})
        self.beta = beta
        self._alpha: float | None = None
        if self.config.conditioned:
            low, high = self.config.alpha_range
            trained = self.env_kwargs.get("alpha")
            default = trained if isinstance(trained, int | float) and low <= trained <= high else math.sqrt(low * high)
            self.alpha = default if alpha is None else alpha
        elif alpha is not None:
            self.config.check_alpha(alpha)  # raises: an unconditioned policy takes no alpha
        self.seed = seed
        self.__name__ = name  # the label ``evaluate`` gives the result
        self._generator: torch.Generator | None = None

    @property
    def config(self) -> PolicyConfig:
        """The network's ``PolicyConfig``."""
        return self.network.config

    @property
    def alpha(self) -> float | None:
        """The trade-off a conditioned policy serves (None for a policy trained for one alpha)."""
        return self._alpha

    @alpha.setter
    def alpha(self, value: float) -> None:
        self._alpha = self.config.check_alpha(value)

    @property
    def observation_kwargs(self) -> dict[str, Any]:
        """Env arguments the observations must have beyond ``env_kwargs`` (``observe_hidden`` for ``hidden``)."""
        return {"observe_hidden": True} if "hidden" in self.config.features else {}

    def check_compatible(self, env: Any) -> None:
        """Raises a ValueError where ``env``'s observations do not fit the network (``PolicyConfig.check_compatible``).

        ``unmask_gym.evaluation.evaluate`` calls it before its reset; call it yourself before your own loop.
        """
        self.config.check_compatible(env)

    def reseed(self, seed: int | None = None) -> None:
        """Restarts the sampling generator (from ``seed``, or from ``self.seed``)."""
        self.seed = self.seed if seed is None else seed
        self._generator = None

    def __call__(self, obs: dict[str, Any]) -> Any:
        """The bool action for ``obs``: torch or numpy, batched (N, L) or a single env's (L,), answered in kind."""
        obs, was_numpy, single = as_batched_tensors(obs)
        return in_kind(self._act(obs), was_numpy, single)

    def _act(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = self.logits(obs)
        if self._generator is None or self._generator.device != logits.device:
            self._generator = torch.Generator(device=logits.device).manual_seed(self.seed)
        tau, beta = self.config.evaluation_tau, self._check_beta()
        return sample_action(logits, obs["action_mask"], tau, beta, self._generator, fallback_to_highest_logit=True,
                             noise=self.config.commit_noise)  # fmt: skip

    def expected_commits(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(N,) expected positions committed at this beta (the fallback included)."""
        return expected_commits(self.logits(obs), obs["action_mask"], self.config.evaluation_tau, self._check_beta(),
                                noise=self.config.commit_noise)  # fmt: skip

    def logits(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(N, L) logits on the obs' device (the network follows the observations there)."""
        device = obs["action_mask"].device
        if next(self.network.parameters()).device != device:
            self.network.to(device)
        with torch.no_grad():
            return self.network.logits(obs, self._alpha, self._check_beta() if self.config.beta_input else None)

    def _check_beta(self) -> float:
        if isinstance(self.beta, bool) or not isinstance(self.beta, int | float) or not math.isfinite(self.beta):
            raise TypeError(f"beta must be a finite number, got {self.beta!r}")
        if self.beta <= 0:
            raise ValueError(f"beta must be > 0, got {self.beta}")
        return float(self.beta)

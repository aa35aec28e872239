"""TorchRL PPO on the batched env: ``TorchRLEnv`` + a collector + GAE + ``ClipPPOLoss``, tensors end to end.

    python examples/torchrl_ppo.py                     # about 30 s on 2 quiet CPU cores
    python examples/torchrl_ppo.py --total-frames 2048 # a smoke run

TorchRL resets finished rows itself; ``TorchRLEnv`` takes the env's default SAME_STEP autoreset (the next
episode is already running, its first observation is handed out at TorchRL's reset) or DISABLED. The policy is a
small per-position network: one Bernoulli per answer position (a bool action, TorchRL's ``Binary`` spec), with
positions outside ``action_mask`` pushed to "leave".
"""

import argparse

import torch
from tensordict.nn import TensorDictModule
from torch import nn
from torchrl.collectors import Collector
from torchrl.modules import ProbabilisticActor, ValueOperator
from torchrl.objectives import ClipPPOLoss
from torchrl.objectives.value import GAE

from unmask_gym import UnmaskVectorEnv
from unmask_gym.evaluation import evaluate, make_eval_env
from unmask_gym.wrappers.torchrl import TorchRLEnv

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--task", default="permutation")
parser.add_argument("--total-frames", type=int, default=24_576)
parser.add_argument("--num-envs", type=int, default=32)
parser.add_argument("--eval-episodes", type=int, default=128)
args = parser.parse_args()
torch.set_num_threads(2)
torch.manual_seed(0)

mdp = {"task": args.task, "block_length": None, "empty_action": "top_confidence", "alpha": 1.0}
env = TorchRLEnv(UnmaskVectorEnv(args.num_envs, device="cpu", **mdp))
env.set_seed(0)
KEYS = ["confidence", "margin", "entropy", "masked", "action_mask", "step_frac"]


def position_features(confidence, margin, entropy, masked, action_mask, step_frac):
    """(..., L, 6): each position's numbers, the step fraction repeated along the answer."""
    step = step_frac.expand_as(confidence)
    return torch.stack([confidence, margin, entropy, masked.float(), action_mask.float(), step], dim=-1)


class Actor(nn.Module):
    """Per-position MLP -> commit logit; positions outside ``action_mask`` get -20 (never committed)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))

    def forward(self, confidence, margin, entropy, masked, action_mask, step_frac):
        """Logits (..., L)."""
        x = position_features(confidence, margin, entropy, masked, action_mask, step_frac)
        return self.net(x).squeeze(-1).masked_fill(~action_mask, -20.0)


class Critic(nn.Module):
    """Per-position MLP, averaged over the answer -> state value (..., 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 64), nn.Tanh(), nn.Linear(64, 1))

    def forward(self, confidence, margin, entropy, masked, action_mask, step_frac):
        """Values (..., 1)."""
        return self.net(position_features(confidence, margin, entropy, masked, action_mask, step_frac)).mean(-2)


class PositionBernoulli(torch.distributions.Independent):
    """One Bernoulli per answer position; samples are bool, like the env's action spec."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__(torch.distributions.Bernoulli(logits=logits), 1)

    def sample(self, sample_shape: tuple[int, ...] = ()) -> torch.Tensor:
        """A bool action."""
        return super().sample(torch.Size(sample_shape)).bool()

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """Log-probability of a bool action."""
        return super().log_prob(value.float())

    @property
    def deterministic_sample(self) -> torch.Tensor:
        """Commit where p > 1/2."""
        return self.base_dist.logits > 0


actor_net = Actor()
actor = ProbabilisticActor(
    TensorDictModule(actor_net, in_keys=KEYS, out_keys=["logits"]), in_keys=["logits"],
    distribution_class=PositionBernoulli, return_log_prob=True, spec=env.action_spec,
)  # fmt: skip
critic = ValueOperator(Critic(), in_keys=KEYS)
advantage = GAE(gamma=1.0, lmbda=0.95, value_network=critic)
loss_fn = ClipPPOLoss(actor, critic, clip_epsilon=0.2, entropy_coeff=0.01, critic_coeff=0.5, normalize_advantage=True)
optimizer = torch.optim.Adam(loss_fn.parameters(), lr=1e-3)
frames_per_batch = args.num_envs * 32
collector = Collector(env, actor, frames_per_batch=frames_per_batch, total_frames=args.total_frames,
                      auto_register_policy_transforms=False)  # fmt: skip


def held_out(label: str) -> None:
    """Accuracy, NFE and reward of the greedy policy on held-out prompts."""

    def greedy(obs: dict) -> torch.Tensor:
        with torch.no_grad():
            return actor_net(*(obs[key] for key in KEYS)) > 0

    result = evaluate(make_eval_env(episodes=args.eval_episodes, device="cpu", **mdp), greedy, seed=0)
    print(f"{label}: accuracy {result.accuracy:.3f}  mean NFE {result.mean_nfe:.2f}  mean reward "
          f"{result.mean_reward:.3f}  ({result.episodes} held-out prompts)")  # fmt: skip


held_out("before training")
for batch in collector:  # (N, T) transitions
    with torch.no_grad():
        advantage(batch)
    flat = batch.reshape(-1)
    for _ in range(4):  # epochs over the batch, minibatches of 256 transitions
        for index in torch.randperm(flat.shape[0]).split(256):
            losses = loss_fn(flat[index])
            loss = losses["loss_objective"] + losses["loss_critic"] + losses["loss_entropy"]
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(loss_fn.parameters(), 0.5)
            optimizer.step()
    collector.update_policy_weights_()
collector.shutdown()
held_out(f"after {args.total_frames} frames")

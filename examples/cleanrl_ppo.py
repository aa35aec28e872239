"""CleanRL-style PPO, one file, written against the batched env with torch tensors end to end (no numpy).

    python examples/cleanrl_ppo.py                          # about 30 s on 2 quiet CPU cores
    python examples/cleanrl_ppo.py --total-timesteps 2048   # a smoke run

CleanRL's ``ppo.py`` choices (GAE, clipped policy and value losses, entropy bonus, advantage normalisation,
gradient clipping, learning-rate annealing), adapted to this env's conventions:

- SAME_STEP autoreset: a row that ends returns its *next* episode's first observation; the episode's reward
  comes with that step.
- Running out of the NFE budget is ``terminated`` (the budget is part of the MDP), so an ended episode's value
  is 0; only ``truncated`` (a time limit you add) bootstraps, from ``info["final_obs"]``.
- ``empty_action="top_confidence"``: an untrained agent often selects nothing; under the default ``"noop"``
  such episodes can end with nothing committed and give no learning signal.
"""

import argparse
import time

import gymnasium as gym
import torch
from torch import nn

import unmask_gym  # noqa: F401  (registers the UnmaskGym ids)
from unmask_gym.evaluation import evaluate, make_eval_env

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--task", default="Permutation")
parser.add_argument("--total-timesteps", type=int, default=24_576)
parser.add_argument("--num-envs", type=int, default=32)
parser.add_argument("--num-steps", type=int, default=16, help="steps per env per rollout")
parser.add_argument("--learning-rate", type=float, default=1e-3)
parser.add_argument("--gamma", type=float, default=1.0)
parser.add_argument("--gae-lambda", type=float, default=0.95)
parser.add_argument("--update-epochs", type=int, default=4)
parser.add_argument("--num-minibatches", type=int, default=4)
parser.add_argument("--clip-coef", type=float, default=0.2)
parser.add_argument("--ent-coef", type=float, default=0.01)
parser.add_argument("--vf-coef", type=float, default=0.5)
parser.add_argument("--max-grad-norm", type=float, default=0.5)
parser.add_argument("--eval-episodes", type=int, default=128)
args = parser.parse_args()
torch.set_num_threads(2)
torch.manual_seed(0)
mdp = {"block_length": None, "empty_action": "top_confidence", "alpha": 1.0}
envs = gym.make_vec(f"UnmaskGym/{args.task}-v0", num_envs=args.num_envs, vectorization_mode="vector_entry_point",
                    device="cpu", **mdp)  # fmt: skip
N, L = args.num_envs, envs.single_action_space.n


def features(obs: dict) -> torch.Tensor:
    """(N, L, 6) per-position inputs: confidence, margin, entropy, masked, selectable, step fraction."""
    step = obs["step_frac"].expand_as(obs["confidence"])
    return torch.stack([obs["confidence"], obs["margin"], obs["entropy"], obs["masked"].float(),
                        obs["action_mask"].float(), step], dim=-1)  # fmt: skip


class Agent(nn.Module):
    """Per-position actor (one commit logit each) and a critic averaged over positions."""

    def __init__(self) -> None:
        super().__init__()
        self.actor = nn.Sequential(nn.Linear(6, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
        self.critic = nn.Sequential(nn.Linear(6, 64), nn.Tanh(), nn.Linear(64, 1))

    def get_value(self, x: torch.Tensor) -> torch.Tensor:
        """(B,) state values."""
        return self.critic(x).mean(dim=(-2, -1))

    def get_action_and_value(self, x: torch.Tensor, selectable: torch.Tensor, action: torch.Tensor | None = None):
        """Action (B, L) bool, its log-probability, the entropy and the value."""
        logits = self.actor(x).squeeze(-1).masked_fill(~selectable, -20.0)  # unselectable: never committed
        probs = torch.distributions.Bernoulli(logits=logits)
        if action is None:
            action = probs.sample().bool()
        return action, probs.log_prob(action.float()).sum(-1), probs.entropy().sum(-1), self.get_value(x)


agent = Agent()
optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)
batch_size = N * args.num_steps
num_iterations = max(1, args.total_timesteps // batch_size)
minibatch_size = batch_size // args.num_minibatches

obs_buffer = torch.zeros(args.num_steps, N, L, 6)
mask_buffer = torch.zeros(args.num_steps, N, L, dtype=torch.bool)
actions = torch.zeros(args.num_steps, N, L, dtype=torch.bool)
logprobs, rewards, dones, values = (torch.zeros(args.num_steps, N) for _ in range(4))


def held_out(label: str) -> None:
    """Accuracy, NFE and reward of the greedy policy (commit where p > 1/2) on held-out prompts."""

    def greedy(obs: dict) -> torch.Tensor:
        with torch.no_grad():
            return (agent.actor(features(obs)).squeeze(-1) > 0) & obs["action_mask"]

    env = make_eval_env(args.task.lower(), episodes=args.eval_episodes, device="cpu", **mdp)
    result = evaluate(env, greedy, seed=0)
    print(f"{label}: accuracy {result.accuracy:.3f}  mean NFE {result.mean_nfe:.2f}  mean reward "
          f"{result.mean_reward:.3f}  ({result.episodes} held-out prompts)")  # fmt: skip


held_out("before training")
start = time.time()
obs, _ = envs.reset(seed=0)
next_done = torch.zeros(N)
for iteration in range(1, num_iterations + 1):
    optimizer.param_groups[0]["lr"] = (1.0 - (iteration - 1.0) / num_iterations) * args.learning_rate  # annealing
    episode_returns = []
    for step in range(args.num_steps):
        x = features(obs)
        obs_buffer[step], mask_buffer[step], dones[step] = x, obs["action_mask"], next_done
        with torch.no_grad():
            action, logprob, _, value = agent.get_action_and_value(x, obs["action_mask"])
        actions[step], logprobs[step], values[step] = action, logprob, value
        obs, reward, terminated, truncated, info = envs.step(action)
        if truncated.any():  # a time limit, not the MDP's end: bootstrap from the finished episode's last state
            with torch.no_grad():
                final_value = agent.get_value(features(info["final_obs"]))
            reward = reward + args.gamma * torch.where(truncated & ~terminated, final_value, 0.0)
        rewards[step] = reward
        next_done = (terminated | truncated).float()
        if "episode" in info:
            episode_returns += info["episode"]["r"][info["_episode"]].tolist()

    with torch.no_grad():  # GAE over the rollout, bootstrapping from the state after it
        next_value = agent.get_value(features(obs))
        advantages = torch.zeros_like(rewards)
        last = torch.zeros(N)
        for t in reversed(range(args.num_steps)):
            next_nonterminal = 1.0 - (next_done if t == args.num_steps - 1 else dones[t + 1])
            following = next_value if t == args.num_steps - 1 else values[t + 1]
            delta = rewards[t] + args.gamma * following * next_nonterminal - values[t]
            last = delta + args.gamma * args.gae_lambda * next_nonterminal * last
            advantages[t] = last
        returns = advantages + values

    b_obs, b_masks, b_actions = obs_buffer.flatten(0, 1), mask_buffer.flatten(0, 1), actions.flatten(0, 1)
    b_logprobs, b_advantages, b_returns, b_values = (t.reshape(-1) for t in (logprobs, advantages, returns, values))
    for _ in range(args.update_epochs):
        for index in torch.randperm(batch_size).split(minibatch_size):
            _, newlogprob, entropy, newvalue = agent.get_action_and_value(b_obs[index], b_masks[index],
                                                                          b_actions[index])  # fmt: skip
            ratio = (newlogprob - b_logprobs[index]).exp()
            mb_advantages = b_advantages[index]
            mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)
            clipped_ratio = ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)
            pg_loss = torch.max(-mb_advantages * ratio, -mb_advantages * clipped_ratio).mean()
            v_clipped = b_values[index] + (newvalue - b_values[index]).clamp(-args.clip_coef, args.clip_coef)
            v_loss = 0.5 * torch.max((newvalue - b_returns[index]) ** 2, (v_clipped - b_returns[index]) ** 2).mean()
            loss = pg_loss - args.ent_coef * entropy.mean() + args.vf_coef * v_loss
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
            optimizer.step()
    if episode_returns:
        mean_return = sum(episode_returns) / len(episode_returns)
        print(f"iteration {iteration}/{num_iterations}: mean episode return {mean_return:.3f}  "
              f"({time.time() - start:.0f} s)")  # fmt: skip

held_out(f"after {num_iterations * batch_size} steps")

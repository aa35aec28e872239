"""DQN learns a *schedule*: how many of the most confident positions to commit each step (``VectorTopKAction``).

    python examples/sb3_dqn_topk.py                          # about 30 s on 2 quiet CPU cores
    python examples/sb3_dqn_topk.py --total-timesteps 2048   # a smoke run

The per-token decision is replaced by one number per step, ``Discrete(L)``: action a commits the a + 1 most
confident selectable positions. A value-based agent can play that, and the learned schedule can be set against the
fixed top-k rules and against per-token policies on the same prompts.
"""

import argparse

import torch
from stable_baselines3 import DQN

from unmask_gym import UnmaskVectorEnv
from unmask_gym.evaluation import evaluate, make_eval_env
from unmask_gym.heuristics import top_k_confidence
from unmask_gym.wrappers import VectorTopKAction
from unmask_gym.wrappers.actions import top_k_commit
from unmask_gym.wrappers.sb3 import SB3VecEnv

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--task", default="sudoku")
parser.add_argument("--total-timesteps", type=int, default=20_000)
parser.add_argument("--num-envs", type=int, default=32)
parser.add_argument("--eval-episodes", type=int, default=128)
args = parser.parse_args()
torch.set_num_threads(2)

mdp = {"task": args.task, "block_length": None, "alpha": 2.0}
env = SB3VecEnv(VectorTopKAction(UnmaskVectorEnv(args.num_envs, device="cpu", **mdp)))
agent = DQN("MultiInputPolicy", env, learning_rate=1e-3, buffer_size=50_000, learning_starts=1_000, batch_size=256,
            train_freq=1, gradient_steps=1, target_update_interval=500, exploration_fraction=0.5,
            exploration_final_eps=0.02, gamma=1.0, seed=0, device="cpu")  # fmt: skip


def schedule(obs: dict) -> torch.Tensor:
    """The agent's greedy count per row, turned into the per-token action ``evaluate`` steps with."""
    counts, _ = agent.predict({key: obs[key].numpy() for key in env.observation_space.spaces}, deterministic=True)
    return top_k_commit(obs, torch.as_tensor(counts) + 1)


def held_out(label: str, policy) -> None:
    """Accuracy, NFE and reward of ``policy`` on held-out prompts."""
    result = evaluate(make_eval_env(episodes=args.eval_episodes, device="cpu", **mdp), policy, seed=0)
    print(f"{label:28s} accuracy {result.accuracy:.3f}  mean NFE {result.mean_nfe:.2f}  mean reward "
          f"{result.mean_reward:.3f}")  # fmt: skip


held_out("DQN schedule, untrained", schedule)
agent.learn(total_timesteps=args.total_timesteps)
held_out(f"DQN schedule, {args.total_timesteps} steps", schedule)
for k in (1, 2, 4):
    held_out(f"fixed top-{k} confidence", top_k_confidence(k))

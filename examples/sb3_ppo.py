"""Stable-Baselines3 PPO on the batched env: one dLLM forward per step for all envs, through ``SB3VecEnv``.

    python examples/sb3_ppo.py                         # about 30 s on 2 quiet CPU cores
    python examples/sb3_ppo.py --total-timesteps 2048  # a smoke run

The policy is SB3's ``MultiInputPolicy`` (an MLP per observation key, concatenated). ``SB3VecEnv`` shows it the
float features and masks only: SB3 would one-hot encode the token-id keys into L x V inputs each. The action is
``MultiBinary(L)``, one Bernoulli per answer position. We train with ``empty_action="top_confidence"``: an
untrained agent often selects nothing, and under the default ``"noop"`` such a step commits nothing while still
costing a pass, so early episodes can end with nothing committed (reward 0 for every action: no signal).
"""

import argparse

import torch
from stable_baselines3 import PPO

from unmask_gym import UnmaskVectorEnv
from unmask_gym.evaluation import evaluate, make_eval_env
from unmask_gym.wrappers.sb3 import SB3VecEnv, sb3_policy

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--task", default="permutation")
parser.add_argument("--total-timesteps", type=int, default=24_576)
parser.add_argument("--num-envs", type=int, default=32)
parser.add_argument("--eval-episodes", type=int, default=128)
args = parser.parse_args()
torch.set_num_threads(2)

mdp = {"task": args.task, "block_length": None, "empty_action": "top_confidence", "alpha": 1.0}
env = SB3VecEnv(UnmaskVectorEnv(args.num_envs, device="cpu", **mdp))
agent = PPO("MultiInputPolicy", env, n_steps=64, batch_size=512, n_epochs=4, learning_rate=1e-3, seed=0, device="cpu")


def held_out(label: str) -> None:
    """Accuracy, NFE and reward on held-out prompts."""
    result = evaluate(make_eval_env(episodes=args.eval_episodes, device="cpu", **mdp), sb3_policy(agent), seed=0)
    print(f"{label}: accuracy {result.accuracy:.3f}  mean NFE {result.mean_nfe:.2f}  mean reward "
          f"{result.mean_reward:.3f}  ({result.episodes} held-out prompts)")  # fmt: skip


held_out("before training")
agent.learn(total_timesteps=args.total_timesteps)
held_out(f"after {args.total_timesteps} steps")

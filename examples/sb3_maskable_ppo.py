"""sb3-contrib MaskablePPO in semi-autoregressive blocks: positions outside the current block are masked out.

    python examples/sb3_maskable_ppo.py                         # about 30 s on 2 quiet CPU cores
    python examples/sb3_maskable_ppo.py --total-timesteps 2048  # a smoke run

``SB3VecEnv.action_masks()`` gives MaskablePPO one (may leave, may commit) pair per answer position, so the
policy's distribution never puts mass on committing a position the env would ignore. With 4-token blocks most of
the answer is outside the block at any step; plain PPO wastes probability there, MaskablePPO does not.
"""

import argparse

import torch
from sb3_contrib import MaskablePPO

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

mdp = {"task": args.task, "block_length": 4, "empty_action": "top_confidence", "alpha": 1.0}
env = SB3VecEnv(UnmaskVectorEnv(args.num_envs, device="cpu", **mdp))
agent = MaskablePPO("MultiInputPolicy", env, n_steps=64, batch_size=512, n_epochs=4, learning_rate=1e-3, seed=0,
                    device="cpu")  # fmt: skip


def held_out(label: str) -> None:
    """Accuracy, NFE and reward on held-out prompts (``sb3_policy`` passes MaskablePPO the action masks)."""
    result = evaluate(make_eval_env(episodes=args.eval_episodes, device="cpu", **mdp), sb3_policy(agent), seed=0)
    print(f"{label}: accuracy {result.accuracy:.3f}  mean NFE {result.mean_nfe:.2f}  mean reward "
          f"{result.mean_reward:.3f}  ({result.episodes} held-out prompts)")  # fmt: skip


held_out("before training")
agent.learn(total_timesteps=args.total_timesteps)
held_out(f"after {args.total_timesteps} steps")

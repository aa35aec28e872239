"""A random agent on the vectorized env: the smallest complete loop (gym.make_vec, reset, step, episode stats)."""

import gymnasium as gym
import torch

import unmask_gym  # noqa: F401  (registers the UnmaskGym ids)

envs = gym.make_vec("UnmaskGym/Permutation-v0", num_envs=16, vectorization_mode="vector_entry_point")
obs, info = envs.reset(seed=0)
generator = torch.Generator().manual_seed(0)
returns, nfes = [], []
while len(returns) < 64:
    # Commit each selectable position with probability 0.3; an empty choice is a no-op that still costs one NFE.
    action = (torch.rand(obs["action_mask"].shape, generator=generator) < 0.3) & obs["action_mask"]
    obs, reward, terminated, truncated, info = envs.step(action)
    if "episode" in info:
        done = info["_episode"]
        returns += info["episode"]["r"][done].tolist()
        nfes += info["episode"]["nfe"][done].tolist()
print(f"random agent: mean return {sum(returns) / len(returns):.3f}, mean NFE {sum(nfes) / len(nfes):.2f}")

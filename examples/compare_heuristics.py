"""Compare confidence heuristics on held-out prompts: accuracy against forward passes (NFE)."""

from unmask_gym.evaluation import evaluate, make_eval_env
from unmask_gym.heuristics import make_policy

TASK, EPISODES = "permutation", 200
specs = [
    "top_k_confidence:k=1",
    "top_k_confidence:k=4",
    "random_k:k=4",
    "fast_dllm_threshold:threshold=0.9",
    "fast_dllm_factor:factor=1.0",
    "eb_sampler:gamma=0.1",
]
print(f"{TASK}, full diffusion, {EPISODES} held-out prompts")
for spec in specs:
    result = evaluate(make_eval_env(TASK, EPISODES), make_policy(spec), seed=0)
    low, high = result.accuracy_ci95
    print(f"{spec:36s} accuracy {result.accuracy:.3f} [{low:.3f}, {high:.3f}]  mean NFE {result.mean_nfe:5.2f}")

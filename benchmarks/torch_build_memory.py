"""Resident memory of a torch build on CPU: after ``import torch`` and after three Adam steps of a small GRU.
Compares the CUDA build the project pins with a CPU-only build (what Binder installs); run it with each
environment's python, pinned to one core:

    taskset -c 1 .venv/bin/python benchmarks/torch_build_memory.py
"""
import psutil


def main() -> None:
    process = psutil.Process()
    before = process.memory_full_info()
    import torch

    torch.set_num_threads(1)
    imported = process.memory_full_info()
    model = torch.nn.GRU(80, 256, num_layers=2, batch_first=True)
    optimizer = torch.optim.Adam(model.parameters())
    for _ in range(3):
        output, _state = model(torch.randn(8, 200, 80))
        output.sum().backward()
        optimizer.step()
        optimizer.zero_grad()
    worked = process.memory_full_info()

    def mb(value: int) -> int:
        return round(value / 2**20)

    print(f"torch {torch.__version__}: python alone {mb(before.rss)} MB; after import RSS/USS {mb(imported.rss)}/"
          f"{mb(imported.uss)} MB; after the GRU steps {mb(worked.rss)}/{mb(worked.uss)} MB; "
          f"load average {psutil.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

"""Run by tests/test_distributed.py under torchrun (or alone, as one process): a few CycleGAN
steps on two folders of images, then every rank saves the weights it holds.

    python -m torch.distributed.run --nproc_per_node=2 tests/ddp_worker.py A B OUT BATCH STEPS
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from safetensors.torch import save_file  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from cyclegan import distributed  # noqa: E402
from cyclegan.data import EpochSampler, UnpairedDataset, folder_domains  # noqa: E402
from cyclegan.config import TrainConfig  # noqa: E402
from cyclegan.training import Trainer  # noqa: E402


def main(data_a, data_b, out, batch_size, steps):
    distributed.setup(timeout_s=60)
    # no pool: its random choices are per rank, so with it 2 x batch 1 is not 1 x batch 2
    config = TrainConfig(ngf=4, n_blocks=1, ndf=4, image_size=32, compile=False, precision="fp32", pool_size=0,
                         batch_size=batch_size, epoch_size=8, epochs=1, epochs_decay=1)
    trainer = Trainer(config)
    dataset = UnpairedDataset(*folder_domains(data_a, data_b), 32, "resize_crop", train=True, seed=0)
    sampler = EpochSampler(len(dataset), seed=0, epoch_size=8, rank=trainer.rank, world_size=trainer.world_size)
    done = 0
    while done < steps:  # across epoch ends, as train/run.py does
        sampler.set_epoch(trainer.epoch)
        for batch in DataLoader(dataset, batch_size=batch_size, sampler=sampler):
            trainer.train_step(batch["A"], batch["B"])
            done += 1
            if done == steps:
                break
        else:
            trainer.end_epoch()
    state = {f"{name}.{k}": v.contiguous() for name, net in trainer.nets.items() for k, v in net.state_dict().items()}
    save_file(state, str(Path(out) / f"rank{trainer.rank}_of_{trainer.world_size}.safetensors"))
    distributed.cleanup()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))

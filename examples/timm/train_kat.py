# Registers the KAT authors' models with timm (import katransformer), then runs timm's train.py.
import os
import runpy
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import katransformer  # noqa: F401,E402

if '--device' in sys.argv and sys.argv[sys.argv.index('--device') + 1] == 'cpu':
    # CPU smoke tests only: DDP refuses device_ids for CPU modules, and timm passes [device].
    import torch.nn.parallel as parallel

    class CpuDDP(parallel.DistributedDataParallel):
        def __init__(self, module, device_ids=None, **kwargs):
            super().__init__(module, **kwargs)

    parallel.DistributedDataParallel = CpuDDP

import torch  # noqa: E402

if torch.__version__ < '2':
    # torch 1.13's weights_only unpickler cannot read timm's own train checkpoints (for --resume): trusted local files only.
    import timm.task._helpers as helpers

    loader = helpers._load_train_checkpoint
    helpers._load_train_checkpoint = lambda path, weights_only=True: loader(path, weights_only=False)

sys.argv[0] = os.path.join(HERE, 'timm_train.py')
runpy.run_path(sys.argv[0], run_name='__main__')

"""Fine-tuning a trained ET on a new molecule against training from scratch
(``noether study finetune``): :mod:`~noether.studies.finetune.plan`,
:mod:`~noether.studies.finetune.run` and :mod:`~noether.studies.finetune.report`. See the
fine-tuning section of docs/training.md."""

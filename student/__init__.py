"""The student stage: a tiny text-to-SQL model trained on the curriculum, evaluated at each third.

    schemadistill train runs/ecommerce [--student scratch|scratch:s|Qwen/Qwen2.5-Coder-0.5B-Instruct]
    python -m student.bench            # training tokens/s of the default scratch student here

Modules: ``model`` (scratch presets, tokenizer, pretrained + LoRA), ``data`` (prompt spec,
phase files), ``train`` (TRL SFTTrainer: one shuffled run saved at each third, or one run per phase; eval after each), ``budget`` (the
time budget), ``infer`` (greedy batched generation), ``history`` (loss logs and plots),
``bench`` (throughput). The prompt itself lives in ``schemadistill/prompt.py`` so the torch-free
runtime can render it.
"""

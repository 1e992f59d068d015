"""Ask an exported schemadistill artifact a question with onnxruntime, tokenizers and numpy only.

    pip install onnxruntime tokenizers numpy      # all this file needs: no torch, no schemadistill
    python examples/consume_artifact.py runs/ecommerce/export/artifact "How many users are from France?"

Greedy decoding with the KV cache, token for token what ``export.runtime`` writes for the question
asked alone (the runtime also batches, grounds the SQL: the question's dates and numbers, and from
values.json the values and named conditions it names; checks the SQL and gives a failing answer
beam search and a repair round).
The artifact layout (manifest.json "io", generation.json) is documented in export/artifact.py.
"""

import json
import re
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

# a number in a question, as schemadistill/prompt.py finds them ("1000152", "1,000", "3.5")
NUMBER = re.compile(r"(?<![\w.#])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w]|\.\d)")


def load(artifact):
    art = Path(artifact)
    manifest, gen = (json.loads((art / name).read_text()) for name in ("manifest.json", "generation.json"))
    variant = "int8" if "int8" in manifest["variants"] else "fp32"  # int8: the fast one on CPU
    model = art / manifest["variants"][variant]["file"]
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return session, Tokenizer.from_file(str(art / "tokenizer.json")), manifest["io"], gen


def slot_numbers(question, min_digits):
    """Numbers of >= min_digits digits become #1, #2, ...: the model writes the slot, we fill it in."""
    values = []

    def slot(m):
        value = m.group(0).replace(",", "")
        if min_digits <= 0 or sum(c.isdigit() for c in value) < min_digits:
            return m.group(0)
        if value not in values:
            values.append(value)
        return f"#{values.index(value) + 1}"

    return NUMBER.sub(slot, " ".join(question.split())), values


def prompt(gen, question):
    """prompt.j2 rendered for a plain question (with jinja2 at hand, render that file instead)."""
    text = (f"Schema:\n{gen['schema_text']}\n" if gen["schema_text"] else "") + f"Question: {question}\nSQL:"
    return gen["chat_prefix"] + text + gen["chat_suffix"] if gen["chat"] else text


def ask(session, tok, io, gen, question):
    question, values = slot_numbers(question, gen.get("number_slots", 0))
    ids = tok.encode(prompt(gen, question), add_special_tokens=gen["add_special_tokens"]).ids
    layers = range(io["num_layers"])
    past = {io[k].format(i=i): np.zeros((1, io["num_kv_heads"], 0, io["head_dim"]), np.float32)
            for i in layers for k in ("past_key", "past_value")}  # empty cache; KV is fp32 in every variant
    present = [io[k].format(i=i) for i in layers for k in ("present_key", "present_value")]
    new, feed_ids = [], ids  # first step: the whole prompt; then one token at a time
    for _ in range(min(gen["max_new_tokens"], io.get("max_positions", 1 << 30) - len(ids))):
        n = len(ids) + len(new)  # positions so far, the ones fed now included
        feed = {"input_ids": np.array([feed_ids], np.int64), "attention_mask": np.ones((1, n), np.int64),
                **past}
        if io["has_position_ids"]:
            feed["position_ids"] = np.arange(n - len(feed_ids), n, dtype=np.int64)[None]
        logits, *kv = session.run(["logits", *present], feed)
        new.append(int(logits[0, -1].argmax()))
        if new[-1] in gen["stop_token_ids"]:  # a token holding ";", or EOS
            break
        feed_ids, past = new[-1:], dict(zip(past, kv, strict=True))  # present.* -> next past_key_values.*
    sql = tok.decode(new, skip_special_tokens=gen["skip_special_tokens"]).strip()
    sql = sql[:sql.index(";") + 1] if ";" in sql else sql  # stop after the first statement

    def fill(m):  # the question's numbers back for #1, #2, ...
        return values[int(m[1]) - 1] if 0 < int(m[1]) <= len(values) else m[0]

    return re.sub(r"#(\d+)(?!\d)", fill, sql)


if __name__ == "__main__":
    print(ask(*load(sys.argv[1]), " ".join(sys.argv[2:])))

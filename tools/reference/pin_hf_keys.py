# Pins the tensor names, shapes and state-dict order transformers saves for
# small configs of each architecture `varinit init --hf-config` knows, and the
# scheme of each tensor that transformers' `_init_weights` amounts to (captured
# by varinit.capture; the `hf` style must give the same). Run with transformers
# 5.24 and the varinit wheel installed (the Rust tests compare):
#
#   /work/venv/bin/python tools/reference/pin_hf_keys.py
import json, os, tempfile, torch, transformers
from pathlib import Path
from transformers import AutoConfig, AutoModelForCausalLM
from safetensors import safe_open
from varinit import hf
from varinit.capture import capture

OUT = Path(__file__).resolve().parents[2] / "crates/varinit-io/tests/data/hf_keys.json"
dec = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=100)
cases = {
  "llama": dict(model_type="llama", hidden_size=64, intermediate_size=176, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=128, tie_word_embeddings=False),
  "llama_tied_bias": dict(model_type="llama", hidden_size=64, intermediate_size=176, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=128, tie_word_embeddings=True, attention_bias=True, mlp_bias=True),
  "mistral": dict(model_type="mistral", hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1, head_dim=32, vocab_size=100, tie_word_embeddings=False),
  "qwen2": dict(model_type="qwen2", hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=100, tie_word_embeddings=True),
  "gpt2": dict(model_type="gpt2", n_embd=64, n_layer=2, n_head=4, n_positions=32, vocab_size=128),
  "gpt2_untied_inner": dict(model_type="gpt2", n_embd=64, n_layer=3, n_head=4, n_positions=16, n_inner=100, vocab_size=128, tie_word_embeddings=False),
  "mixtral": dict(model_type="mixtral", num_local_experts=4, num_experts_per_tok=2, **dec),
  "qwen3": dict(model_type="qwen3", head_dim=8, **dec),
  "qwen3_bias_tied": dict(model_type="qwen3", head_dim=16, attention_bias=True, tie_word_embeddings=True, **dec),
  "qwen3_moe": dict(model_type="qwen3_moe", head_dim=8, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32, **dec),
  "qwen3_moe_mixed": dict(model_type="qwen3_moe", num_experts=3, num_experts_per_tok=1, moe_intermediate_size=24, decoder_sparse_step=2, mlp_only_layers=[3], **{**dec, "num_hidden_layers": 4}),
  "gemma2": dict(model_type="gemma2", head_dim=8, **dec),
  "gemma3_text": dict(model_type="gemma3_text", head_dim=8, **dec),
  "gemma3_text_untied_bias": dict(model_type="gemma3_text", head_dim=16, tie_word_embeddings=False, attention_bias=True, **dec),
  "phi3": dict(model_type="phi3", pad_token_id=0, **{**dec, "num_key_value_heads": 1}),
  "olmo2": dict(model_type="olmo2", **dec),
  "olmo2_bias": dict(model_type="olmo2", attention_bias=True, **{**dec, "num_key_value_heads": 1}),
}
out = {"transformers": transformers.__version__, "cases": {}}
for name, kw in cases.items():
    kw = dict(kw)
    mt = kw.pop("model_type")
    cfg = AutoConfig.for_model(mt, **kw)
    m = AutoModelForCausalLM.from_config(cfg)
    d = tempfile.mkdtemp()
    m.save_pretrained(d)
    keys = {}
    for f in sorted(os.listdir(d)):
        if f.endswith(".safetensors"):
            with safe_open(os.path.join(d, f), "pt") as g:
                for k in g.keys():
                    keys[k] = list(g.get_slice(k).get_shape())
    order = hf.saved_keys(m)
    sd = m.state_dict()
    if mt in ("mixtral", "qwen3_moe"):
        # save_pretrained converts transformers 5's fused experts back to the
        # legacy per-expert names (experts.N.w1 ...); from_pretrained reads
        # both. varinit writes the state dict's own (fused) names.
        keys = {k: list(sd[k].shape) for k in order}
    assert sorted(order) == sorted(keys), name
    plan = capture(lambda: type(m)._from_config(cfg))
    schemes = {k: plan[k].scheme for k in order}
    out["cases"][name] = {"config": json.load(open(os.path.join(d, "config.json"))), "keys": keys, "order": order, "schemes": schemes}
json.dump(out, open(OUT, "w"), indent=1, sort_keys=True)
print({k: len(v["keys"]) for k, v in out["cases"].items()})

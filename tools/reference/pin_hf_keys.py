# Pins the tensor names and shapes transformers saves for small configs of each
# supported architecture (run with transformers 5.24; the Rust tests compare).
import json, tempfile, os, torch, transformers
from transformers import AutoConfig, AutoModelForCausalLM
from safetensors import safe_open
cases = {
  "llama": dict(model_type="llama", hidden_size=64, intermediate_size=176, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=128, tie_word_embeddings=False),
  "llama_tied_bias": dict(model_type="llama", hidden_size=64, intermediate_size=176, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=128, tie_word_embeddings=True, attention_bias=True, mlp_bias=True),
  "mistral": dict(model_type="mistral", hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1, head_dim=32, vocab_size=100, tie_word_embeddings=False),
  "qwen2": dict(model_type="qwen2", hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=100, tie_word_embeddings=True),
  "gpt2": dict(model_type="gpt2", n_embd=64, n_layer=2, n_head=4, n_positions=32, vocab_size=128),
  "gpt2_untied_inner": dict(model_type="gpt2", n_embd=64, n_layer=3, n_head=4, n_positions=16, n_inner=100, vocab_size=128, tie_word_embeddings=False),
}
out = {"transformers": transformers.__version__, "cases": {}}
for name, kw in cases.items():
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
    out["cases"][name] = {"config": json.load(open(os.path.join(d, "config.json"))), "keys": keys}
json.dump(out, open("/work/wt/checkpoints/crates/varinit-io/tests/data/hf_keys.json", "w"), indent=1, sort_keys=True)
print({k: len(v["keys"]) for k, v in out["cases"].items()})

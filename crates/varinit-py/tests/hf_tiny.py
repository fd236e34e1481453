"""Tiny configs of transformers architectures (built locally; no hub access)."""

from __future__ import annotations

_DEC = dict(
    vocab_size=96,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
    initializer_range=0.02,
)

TINY: dict[str, dict] = {
    "llama": dict(model_type="llama", **_DEC),
    "mistral": dict(model_type="mistral", **_DEC),
    "mixtral": dict(model_type="mixtral", num_local_experts=4, num_experts_per_tok=2, **_DEC),
    "qwen2": dict(model_type="qwen2", **_DEC),
    "qwen3": dict(model_type="qwen3", head_dim=8, **_DEC),
    "qwen3_moe": dict(
        model_type="qwen3_moe", head_dim=8, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32, **_DEC
    ),
    "gemma2": dict(model_type="gemma2", head_dim=8, **_DEC),
    "gemma3_text": dict(model_type="gemma3_text", head_dim=8, **_DEC),
    "phi3": dict(model_type="phi3", pad_token_id=0, **_DEC),
    "olmo2": dict(model_type="olmo2", **_DEC),
    "gpt2": dict(model_type="gpt2", vocab_size=96, n_embd=32, n_layer=2, n_head=4, n_positions=64),
    "gpt_neox": dict(
        model_type="gpt_neox",
        vocab_size=96,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=64,
    ),
    "bert": dict(
        model_type="bert",
        vocab_size=96,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=64,
        type_vocab_size=2,
    ),
    "t5": dict(
        model_type="t5",
        vocab_size=96,
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
    ),
    "falcon": dict(
        model_type="falcon",
        vocab_size=96,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        new_decoder_architecture=False,
    ),
    "opt": dict(
        model_type="opt",
        vocab_size=96,
        hidden_size=32,
        ffn_dim=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=64,
        word_embed_proj_dim=32,
    ),
}

"""Provider clients: one module per provider API (gemini, vertex_multimodal, dashscope)."""

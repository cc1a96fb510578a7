//! One test per answer shape, on answers shaped like the real servers' (field names from
//! each project's code or docs, cited in src/parse.rs). Names start with `metadata_` so
//! `cargo test --workspace -- metadata` selects them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_models::MetadataField;
use codex_litellm_models::ModelMetadata;
use codex_litellm_models::parse::BackendHint;
use codex_litellm_models::parse::ParseError;
use codex_litellm_models::parse::ollama_trained_context_length;
use codex_litellm_models::parse::parse_litellm_model_info;
use codex_litellm_models::parse::parse_llamacpp_props;
use codex_litellm_models::parse::parse_models_list;
use codex_litellm_models::parse::parse_ollama_ps;
use codex_litellm_models::parse::parse_ollama_show;
use pretty_assertions::assert_eq;
use serde_json::json;

fn find<'a>(models: &'a [ModelMetadata], id: &str) -> &'a ModelMetadata {
    models
        .iter()
        .find(|m| m.id == id)
        .unwrap_or_else(|| panic!("no model {id} in {models:?}"))
}

#[test]
fn metadata_litellm_model_info() {
    let body = json!({"data": [
        {"model_name": "qwen3-coder",
         "litellm_params": {"model": "hosted_vllm/Qwen/Qwen3-Coder-30B-A3B-Instruct"},
         "model_info": {"id": "d1", "db_model": false, "key": "hosted_vllm/Qwen/Qwen3-Coder",
                        "max_tokens": null, "max_input_tokens": null, "max_output_tokens": null,
                        "input_cost_per_token": 0, "litellm_provider": "hosted_vllm", "mode": null,
                        "supports_function_calling": null, "supports_parallel_function_calling": null,
                        "supports_vision": null, "supports_reasoning": null}},
        {"model_name": "claude-sonnet",
         "litellm_params": {"model": "anthropic/claude-sonnet-4-5"},
         "model_info": {"max_tokens": 64000, "max_input_tokens": 200000, "max_output_tokens": 64000,
                        "mode": "chat", "supports_function_calling": true,
                        "supports_parallel_function_calling": true, "supports_vision": true,
                        "supports_reasoning": true}},
        {"model_name": "embed", "model_info": {"mode": "embedding", "max_input_tokens": 8191}},
        {"model_name": "legacy", "model_info": {"max_tokens": 8192}},
        {"model_name": "balanced", "model_info": {"max_input_tokens": 32768, "supports_function_calling": true}},
        {"model_name": "balanced", "model_info": {"max_input_tokens": 16384, "supports_function_calling": null}},
        {"model_name": "picky", "model_info": {"max_input_tokens": 32768, "supports_function_calling": true}},
        {"model_name": "picky", "model_info": {"max_input_tokens": 32768, "supports_function_calling": false}},
        {"model_info": {"max_input_tokens": 1}}
    ]});
    let models = parse_litellm_model_info(&body).unwrap();
    assert_eq!(
        models.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        [
            "qwen3-coder",
            "claude-sonnet",
            "embed",
            "legacy",
            "balanced",
            "picky"
        ]
    );

    // The gateway does not know: nothing is claimed.
    let unknown = find(&models, "qwen3-coder");
    assert_eq!(unknown.context_window, None);
    assert_eq!(unknown.supports_tools, None);
    assert!(!unknown.has_any_value());

    let claude = find(&models, "claude-sonnet");
    assert_eq!(claude.context_window, Some(200_000));
    assert_eq!(claude.max_output_tokens, Some(64_000));
    assert_eq!(
        (
            claude.supports_tools,
            claude.supports_parallel_tool_calls,
            claude.supports_images,
            claude.supports_reasoning
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    assert_eq!(
        claude.source(MetadataField::ContextWindow),
        "GET /model/info model_info.max_input_tokens"
    );
    assert_eq!(find(&models, "embed").is_chat, Some(false));
    // Legacy `max_tokens` with no input/output split is the window.
    assert_eq!(find(&models, "legacy").context_window, Some(8_192));
    // Load-balanced deployments: the smallest window; a capability only if none denies it.
    let balanced = find(&models, "balanced");
    assert_eq!(balanced.context_window, Some(16_384));
    assert_eq!(balanced.supports_tools, Some(true));
    assert_eq!(find(&models, "picky").supports_tools, Some(false));
}

#[test]
fn metadata_litellm_v1_models_extension() {
    // LiteLLM 1.108.7 `/v1/models`: max_input_tokens, max_output_tokens, mode per model.
    let body = json!({"object": "list", "data": [
        {"id": "qwen3-coder", "object": "model", "created": 1677610602, "owned_by": "openai",
         "max_input_tokens": 32768, "max_output_tokens": 8192, "mode": "chat"},
        {"id": "embed", "object": "model", "created": 1677610602, "owned_by": "openai",
         "max_input_tokens": 8191, "max_output_tokens": null, "mode": "embedding"},
    ]});
    let (models, hint) = parse_models_list(&body).unwrap();
    assert_eq!(
        hint,
        BackendHint::Other,
        "LiteLLM is still worth a /model/info request"
    );
    let coder = find(&models, "qwen3-coder");
    assert_eq!(
        (coder.context_window, coder.max_output_tokens),
        (Some(32_768), Some(8_192))
    );
    assert_eq!(coder.is_chat, Some(true));
    assert_eq!(
        coder.source(MetadataField::ContextWindow),
        "GET /models max_input_tokens (LiteLLM)"
    );
    assert_eq!(find(&models, "embed").is_chat, Some(false));
}

#[test]
fn metadata_vllm_models() {
    let body = json!({"object": "list", "data": [
        {"id": "Qwen/Qwen3-Coder-30B-A3B-Instruct", "object": "model", "created": 1700000000,
         "owned_by": "vllm", "root": "/models/qwen3-coder", "parent": null,
         "max_model_len": 65536, "permission": [{"id": "modelperm-1", "object": "model_permission"}]},
        {"id": "my-lora", "object": "model", "created": 1700000000, "owned_by": "vllm",
         "root": "/loras/mine", "parent": "Qwen/Qwen3-Coder-30B-A3B-Instruct", "max_model_len": null},
    ]});
    let (models, hint) = parse_models_list(&body).unwrap();
    assert_eq!(hint, BackendHint::Vllm);
    assert_eq!(models[0].context_window, Some(65_536));
    assert_eq!(
        models[0].source(MetadataField::ContextWindow),
        "GET /models max_model_len (vLLM)"
    );
    // A LoRA adapter runs in its base model's window.
    assert_eq!(models[1].context_window, Some(65_536));
    assert_eq!(models[1].supports_tools, None, "vLLM does not say");
}

#[test]
fn metadata_ollama_show_uses_the_served_num_ctx_not_the_trained_maximum() {
    let show = json!({
        "modelfile": "FROM qwen3-coder:30b\nPARAMETER num_ctx 32768",
        "parameters": "num_ctx                        32768\nstop                           \"<|im_end|>\"\ntemperature                    0.7",
        "template": "{{ .Prompt }}",
        "details": {"format": "gguf", "family": "qwen3moe", "parameter_size": "30.5B"},
        "model_info": {"general.architecture": "qwen3moe", "qwen3moe.context_length": 262144},
        "capabilities": ["completion", "tools"],
        "modified_at": "2025-08-01T10:00:00Z"
    });
    let model = parse_ollama_show("qwen3-coder:30b", &show).unwrap();
    assert_eq!(model.context_window, Some(32_768));
    assert_eq!(ollama_trained_context_length(&show), Some(262_144));
    assert_eq!(
        (
            model.supports_tools,
            model.supports_reasoning,
            model.supports_images,
            model.is_chat
        ),
        (Some(true), Some(false), Some(false), Some(true))
    );

    // No num_ctx in the Modelfile: the window is whatever Ollama runs it with, which only
    // /api/ps knows (for a loaded model). The trained maximum is never taken as the window.
    let bare = json!({
        "parameters": "stop \"<|im_end|>\"",
        "model_info": {"general.architecture": "qwen3", "qwen3.context_length": 40960},
        "capabilities": ["completion", "tools", "thinking", "vision"]
    });
    let model = parse_ollama_show("qwen3:8b", &bare).unwrap();
    assert_eq!(model.context_window, None);
    assert_eq!(
        (model.supports_reasoning, model.supports_images),
        (Some(true), Some(true))
    );
    let ps = json!({"models": [{"name": "qwen3:8b", "model": "qwen3:8b", "size": 6654289920u64,
                                "context_length": 8192, "expires_at": "2025-08-01T10:05:00Z"}]});
    let running = parse_ollama_ps(&ps).unwrap();
    assert_eq!(running[0].id, "qwen3:8b");
    assert_eq!(running[0].context_window, Some(8_192));

    // The OpenAI-compatible list Ollama serves says which server it is.
    let list = json!({"object": "list", "data": [
        {"id": "qwen3:8b", "object": "model", "created": 1754000000, "owned_by": "library"}]});
    assert_eq!(parse_models_list(&list).unwrap().1, BackendHint::Ollama);
}

#[test]
fn metadata_llamacpp_props() {
    let props = json!({
        "default_generation_settings": {"id": 0, "id_task": -1, "n_ctx": 16384,
                                        "params": {"n_predict": -1, "temperature": 0.8}},
        "total_slots": 4,
        "model_alias": "qwen3-coder",
        "model_path": "/models/Qwen3-Coder-30B-A3B-Q4_K_M.gguf",
        "modalities": {"vision": false, "audio": false},
        "chat_template": "{%- for message in messages %}...",
        "chat_template_caps": {"supports_tools": true, "supports_tool_calls": true,
                               "supports_parallel_tool_calls": true, "supports_system_role": true},
        "build_info": "b6100-abcdef"
    });
    let model = parse_llamacpp_props(&props).unwrap();
    assert_eq!(model.id, "qwen3-coder");
    assert_eq!(model.context_window, Some(16_384));
    assert_eq!(
        (
            model.supports_tools,
            model.supports_parallel_tool_calls,
            model.supports_images
        ),
        (Some(true), Some(true), Some(false))
    );
    let list = json!({"object": "list", "data": [
        {"id": "qwen3-coder", "object": "model", "created": 1, "owned_by": "llamacpp",
         "meta": {"n_ctx_train": 262144, "n_params": 30532122624u64}}]});
    let (models, hint) = parse_models_list(&list).unwrap();
    assert_eq!(hint, BackendHint::LlamaCpp);
    assert_eq!(
        models[0].context_window, None,
        "n_ctx_train is the trained maximum, not the window"
    );
}

#[test]
fn metadata_openrouter_models() {
    let body = json!({"data": [
        {"id": "qwen/qwen3-coder", "canonical_slug": "qwen/qwen3-coder-480b-a35b-07-25",
         "name": "Qwen: Qwen3 Coder 480B A35B", "created": 1753230546,
         "description": "Qwen3-Coder...", "context_length": 262144,
         "architecture": {"modality": "text->text", "input_modalities": ["text"],
                          "output_modalities": ["text"], "tokenizer": "Qwen3"},
         "pricing": {"prompt": "0.0000002", "completion": "0.0000008"},
         "top_provider": {"context_length": 262144, "max_completion_tokens": 65536, "is_moderated": false},
         "per_request_limits": null,
         "supported_parameters": ["max_tokens", "temperature", "tools", "tool_choice"]},
        {"id": "deepseek/deepseek-r1", "context_length": 163840,
         "architecture": {"input_modalities": ["text", "image"]},
         "top_provider": {"context_length": 163840, "max_completion_tokens": null},
         "supported_parameters": ["max_tokens", "reasoning", "include_reasoning"]}
    ]});
    let (models, hint) = parse_models_list(&body).unwrap();
    assert_eq!(hint, BackendHint::OpenRouter);
    let coder = find(&models, "qwen/qwen3-coder");
    assert_eq!(
        (coder.context_window, coder.max_output_tokens),
        (Some(262_144), Some(65_536))
    );
    assert_eq!(
        (
            coder.supports_tools,
            coder.supports_reasoning,
            coder.supports_images
        ),
        (Some(true), Some(false), Some(false))
    );
    let r1 = find(&models, "deepseek/deepseek-r1");
    assert_eq!(
        (r1.max_output_tokens, r1.supports_tools),
        (None, Some(false))
    );
    assert_eq!(
        (r1.supports_reasoning, r1.supports_images),
        (Some(true), Some(true))
    );
}

#[test]
fn metadata_plain_openai_models_and_none() {
    let body = json!({"object": "list", "data": [
        {"id": "gpt-4o", "object": "model", "created": 1715367049, "owned_by": "system"},
        {"id": "o3", "object": "model", "created": 1744225308, "owned_by": "system"}]});
    let (models, hint) = parse_models_list(&body).unwrap();
    assert_eq!(hint, BackendHint::Other);
    assert_eq!(models.len(), 2);
    assert!(
        models.iter().all(|m| !m.has_any_value()),
        "ids only: {models:?}"
    );

    let (models, _) = parse_models_list(&json!({"object": "list", "data": []})).unwrap();
    assert!(models.is_empty());
    let models = parse_litellm_model_info(&json!({"data": []})).unwrap();
    assert!(models.is_empty());
}

#[test]
fn metadata_malformed_answers_are_errors_or_ignored_values_never_panics() {
    for body in [
        json!({"models": []}),
        json!({"data": {}}),
        json!([1, 2]),
        json!("text"),
        json!(null),
    ] {
        assert!(
            matches!(parse_models_list(&body), Err(ParseError::Malformed { .. })),
            "{body}"
        );
        assert!(parse_litellm_model_info(&body).is_err(), "{body}");
    }
    assert!(parse_ollama_show("m", &json!([1])).is_err());
    assert!(parse_ollama_ps(&json!({})).is_err());
    assert!(parse_llamacpp_props(&json!({"n_ctx": 4096})).is_err());

    // Entries without an id are skipped; values of the wrong type or zero are "not said";
    // integral floats and numeric strings from hand-written configs are read.
    let body = json!({"data": [
        {"object": "model"},
        {"id": 7},
        {"id": "a", "max_model_len": "lots"},
        {"id": "b", "max_model_len": -5},
        {"id": "c", "max_input_tokens": 0, "max_output_tokens": 8192.0},
        {"id": "d", "max_model_len": "32768"}
    ]});
    let (models, _) = parse_models_list(&body).unwrap();
    assert_eq!(
        models.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c", "d"]
    );
    assert_eq!(find(&models, "a").context_window, None);
    assert_eq!(find(&models, "b").context_window, None);
    assert_eq!(find(&models, "c").context_window, None);
    assert_eq!(find(&models, "c").max_output_tokens, Some(8_192));
    assert_eq!(find(&models, "d").context_window, Some(32_768));
    let info = parse_litellm_model_info(&json!({"data": [
        {"model_name": "x", "model_info": "not an object"},
        {"model_name": "y", "model_info": {"supports_function_calling": "yes"}}
    ]}))
    .unwrap();
    assert!(info.iter().all(|m| !m.has_any_value()), "{info:?}");
}

#[test]
fn metadata_models_list_limited_counts_all_describes_few() {
    let body = json!({"object": "list", "data": [
        {"id": "lora-a", "owned_by": "vllm", "parent": "base"},
        {"id": "other", "owned_by": "vllm"},
        {"id": "wanted", "owned_by": "vllm"},
        {"object": "model"},
        {"id": "base", "owned_by": "vllm", "max_model_len": 16384},
    ]});
    let list =
        codex_litellm_models::parse::parse_models_list_limited(&body, 1, &["wanted".to_string()])
            .unwrap();
    let ids: Vec<&str> = list.models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["lora-a", "wanted"]);
    assert_eq!(list.listed, 4);
    // The adapter's base model is beyond the cut; its window is still found.
    assert_eq!(list.models[0].context_window, Some(16_384));
}

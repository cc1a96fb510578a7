//! The catalog handed to upstream's `StaticModelsManager` (rust-v0.148.0 `ModelsResponse`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_litellm_models::CatalogOptions;
use codex_litellm_models::MetadataField;
use codex_litellm_models::ModelMetadata;
use codex_litellm_models::ModelOverride;
use codex_litellm_models::ModelOverrides;
use codex_litellm_models::catalog_json;
use codex_litellm_models::resolve_models;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;

const INSTRUCTIONS: &str = "You are Codex.";

/// Every field of `ModelInfo` at rust-v0.148.0 (codex-rs/protocol/src/openai_models.rs),
/// plus the legacy top-level `base_instructions` its deserializer accepts.
const MODEL_INFO_FIELDS_0_148: &[&str] = &[
    "slug",
    "display_name",
    "description",
    "default_reasoning_level",
    "supported_reasoning_levels",
    "shell_type",
    "visibility",
    "supported_in_api",
    "priority",
    "additional_speed_tiers",
    "service_tiers",
    "default_service_tier",
    "availability_nux",
    "upgrade",
    "model_messages",
    "include_skills_usage_instructions",
    "include_plugin_usage_instructions",
    "include_apps_usage_instructions",
    "supports_reasoning_summary_parameter",
    "default_reasoning_summary",
    "support_verbosity",
    "default_verbosity",
    "apply_patch_tool_type",
    "web_search_tool_type",
    "truncation_policy",
    "supports_image_detail_original",
    "context_window",
    "max_context_window",
    "auto_compact_token_limit",
    "comp_hash",
    "effective_context_window_percent",
    "experimental_supported_tools",
    "input_modalities",
    "supports_search_tool",
    "use_responses_lite",
    "node_repl_auto_review_required",
    "node_repl_disabled",
    "auto_review_model_override",
    "model_specialty",
    "tool_mode",
    "multi_agent_version",
    "base_instructions",
];

/// Fields with neither a serde default nor an `Option` type: absent = deserialization error.
const REQUIRED_0_148: &[&str] = &[
    "slug",
    "display_name",
    "supported_reasoning_levels",
    "shell_type",
    "visibility",
    "supported_in_api",
    "priority",
    "support_verbosity",
    "truncation_policy",
    "experimental_supported_tools",
];

fn with_window(id: &str, window: u64, output: Option<u64>) -> ModelMetadata {
    let mut model = ModelMetadata::new(id);
    model.set_u64(
        MetadataField::ContextWindow,
        Some(window),
        "GET /model/info model_info.max_input_tokens",
    );
    model.set_u64(
        MetadataField::MaxOutputTokens,
        output,
        "GET /model/info model_info.max_output_tokens",
    );
    model
}

fn entry<'a>(catalog: &'a Value, slug: &str) -> &'a Value {
    catalog["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["slug"] == slug)
        .unwrap_or_else(|| panic!("no {slug} in {catalog}"))
}

#[test]
fn metadata_catalog_json_is_upstream_model_info() {
    let mut model = with_window("qwen3-coder", 16_384, Some(4_096));
    model.set_bool(MetadataField::SupportsTools, Some(true), "GET /model/info");
    model.set_bool(
        MetadataField::SupportsParallelToolCalls,
        Some(true),
        "GET /model/info",
    );
    let options = CatalogOptions::new(INSTRUCTIONS).with_required_model("qwen3-coder");
    let catalog = catalog_json(&[model], &ModelOverrides::new(), &options);

    assert_eq!(
        entry(&catalog, "qwen3-coder"),
        &json!({
            "slug": "qwen3-coder",
            "display_name": "qwen3-coder",
            "description": "16K context · 4K output",
            "supported_reasoning_levels": [],
            "shell_type": "shell_command",
            "visibility": "list",
            "supported_in_api": true,
            "priority": 0,
            "availability_nux": null,
            "upgrade": null,
            "base_instructions": INSTRUCTIONS,
            "include_skills_usage_instructions": false,
            "include_plugin_usage_instructions": false,
            "include_apps_usage_instructions": false,
            "support_verbosity": false,
            "default_verbosity": null,
            "apply_patch_tool_type": "freeform",
            "web_search_tool_type": "text",
            "truncation_policy": {"mode": "tokens", "limit": 2048},
            "context_window": 16384,
            "auto_compact_token_limit": 12288,
            "effective_context_window_percent": 95,
            "experimental_supported_tools": [],
            "input_modalities": ["text"],
            "supports_parallel_tool_calls": true,
        })
    );

    for model in catalog["models"].as_array().unwrap() {
        let keys: Vec<&String> = model.as_object().unwrap().keys().collect();
        for key in &keys {
            assert!(
                MODEL_INFO_FIELDS_0_148.contains(&key.as_str())
                    || *key == "supports_parallel_tool_calls",
                "`{key}` is not a ModelInfo field at rust-v0.148.0"
            );
        }
        for required in REQUIRED_0_148 {
            assert!(
                model.get(*required).is_some(),
                "missing required `{required}`"
            );
        }
        assert!(
            model["base_instructions"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
    }
}

#[test]
fn metadata_catalog_alias_named_like_an_openai_model_gets_the_backend_values() {
    // A LiteLLM alias `gpt-5` routed to a small local model.
    let options = CatalogOptions::new(INSTRUCTIONS).with_required_model("gpt-5");
    let catalog = catalog_json(
        &[with_window("gpt-5", 16_384, None)],
        &ModelOverrides::new(),
        &options,
    );
    assert_eq!(catalog["models"].as_array().unwrap().len(), 1);
    let gpt5 = entry(&catalog, "gpt-5");
    assert_eq!(gpt5["context_window"], 16_384);
    assert_eq!(
        gpt5["supported_reasoning_levels"],
        json!([]),
        "the backend did not say it reasons"
    );
    assert_eq!(gpt5["input_modalities"], json!(["text"]));
    assert!(
        gpt5.get("model_messages").is_none(),
        "no upstream GPT-5 prompt"
    );
    assert!(gpt5.get("default_reasoning_level").is_none());
}

#[test]
fn metadata_catalog_reasoning_levels_only_when_the_model_reasons() {
    let mut thinker = with_window("deepseek-r1", 65_536, None);
    thinker.set_bool(
        MetadataField::SupportsReasoning,
        Some(true),
        "GET /model/info",
    );
    thinker.set_bool(MetadataField::SupportsImages, Some(true), "GET /model/info");
    let plain = with_window("qwen3-coder", 65_536, None);
    let catalog = catalog_json(
        &[thinker, plain],
        &ModelOverrides::new(),
        &CatalogOptions::new(INSTRUCTIONS),
    );
    let efforts: Vec<&str> = entry(&catalog, "deepseek-r1")["supported_reasoning_levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["effort"].as_str().unwrap())
        .collect();
    assert_eq!(efforts, ["low", "medium", "high"]);
    assert_eq!(
        entry(&catalog, "deepseek-r1")["input_modalities"],
        json!(["text", "image"])
    );
    assert_eq!(
        entry(&catalog, "qwen3-coder")["supported_reasoning_levels"],
        json!([])
    );
}

#[test]
fn metadata_catalog_unknown_model_gets_conservative_defaults_and_one_notice() {
    let options = CatalogOptions::new(INSTRUCTIONS).with_required_model("mystery");
    let resolved = resolve_models(
        &[ModelMetadata::new("mystery")],
        &ModelOverrides::new(),
        &options,
    );
    let mystery = &resolved[0];
    assert_eq!(mystery.context_window, 32_768);
    assert!(mystery.context_window_is_default);
    assert_eq!(
        mystery.default_window_notice().unwrap(),
        "codex-litellm: the backend does not report a context window for `mystery`; assuming \
         32768 tokens. Set the real one in litellm.toml: [models.\"mystery\"] \
         context_window = N"
    );
    assert_eq!(
        (
            mystery.supports_tools,
            mystery.parallel_tool_calls,
            mystery.images,
            mystery.reasoning
        ),
        (true, false, false, false)
    );
    assert_eq!(mystery.tool_support_warning(), None, "unknown is not a no");

    // Also when the backend does not list it at all (discovery failed): it is still in the
    // catalog, so Codex never uses its own fallback metadata and warning.
    let catalog = catalog_json(&[], &ModelOverrides::new(), &options);
    let entry = entry(&catalog, "mystery");
    assert_eq!(entry["context_window"], 32_768);
    assert_eq!(entry["visibility"], "list");
    assert_eq!(
        entry["description"],
        "context window unknown (assuming 32K)"
    );
}

#[test]
fn metadata_override_precedence_in_the_catalog() {
    let mut discovered = with_window("qwen3-coder", 262_144, Some(65_536));
    discovered.set_bool(
        MetadataField::SupportsTools,
        Some(false),
        "GET /model/info model_info.supports_function_calling",
    );
    let overrides: ModelOverrides = [
        (
            "qwen3-coder".to_string(),
            ModelOverride {
                context_window: Some(32_768),
                supports_tools: Some(true),
                reasoning: Some(true),
                ..ModelOverride::default()
            },
        ),
        (
            "not-listed".to_string(),
            ModelOverride {
                context_window: Some(8_192),
                ..ModelOverride::default()
            },
        ),
    ]
    .into();
    let options = CatalogOptions::new(INSTRUCTIONS);
    let resolved = resolve_models(&[discovered], &overrides, &options);
    let coder = &resolved[0];
    assert_eq!(coder.context_window, 32_768);
    assert_eq!(
        coder.metadata.source(MetadataField::ContextWindow),
        "litellm.toml [models]"
    );
    assert_eq!(
        coder.max_output_tokens,
        Some(65_536),
        "not overridden: the backend's value"
    );
    assert!(coder.supports_tools && coder.reasoning);
    assert_eq!(
        coder.tool_support_warning(),
        None,
        "the override says it can"
    );
    // Output cap 64K is more than a quarter of 32K: compact at 24K.
    assert_eq!(coder.auto_compact_token_limit, Some(24_576));

    let catalog = catalog_json(&[], &overrides, &options);
    assert_eq!(entry(&catalog, "not-listed")["context_window"], 8_192);
}

#[test]
fn metadata_tool_warning_when_the_backend_says_no_tools() {
    let mut model = with_window("tiny", 8_192, None);
    model.set_bool(
        MetadataField::SupportsTools,
        Some(false),
        "POST /api/show capabilities (Ollama)",
    );
    let resolved = resolve_models(
        &[model],
        &ModelOverrides::new(),
        &CatalogOptions::new(INSTRUCTIONS),
    );
    let warning = resolved[0].tool_support_warning().unwrap();
    assert!(
        warning.contains("`tiny` cannot call tools (POST /api/show capabilities (Ollama))"),
        "{warning}"
    );
    assert!(warning.contains("supports_tools = true"), "{warning}");
    assert!(!resolved[0].supports_tools);
    assert_eq!(resolved[0].description(), "8K context · no tool calls");
}

#[test]
fn metadata_catalog_hides_non_chat_models_and_skips_wildcards() {
    let mut embed = with_window("embed", 8_191, None);
    embed.set_bool(
        MetadataField::IsChat,
        Some(false),
        "GET /model/info model_info.mode",
    );
    let wildcard = ModelMetadata::new("openai/*");
    let chat = with_window("chat", 32_768, None);
    let catalog = catalog_json(
        &[embed, wildcard, chat],
        &ModelOverrides::new(),
        &CatalogOptions::new(INSTRUCTIONS),
    );
    let slugs: Vec<&str> = catalog["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["embed", "chat"]);
    assert_eq!(entry(&catalog, "embed")["visibility"], "hide");
    assert_eq!(entry(&catalog, "chat")["visibility"], "list");
}

/// Issue 22 (low): `/model` shows a backend's id without its terminal sequences; the slug
/// Codex sends back stays the backend's own.
#[test]
fn metadata_catalog_display_name_has_no_control_characters() {
    let id = "evil\u{1b}]52;c;cm0gLXJmIH4=\u{7}-model";
    let options = CatalogOptions::new(INSTRUCTIONS);
    let catalog = catalog_json(
        &[with_window(id, 8_192, None)],
        &ModelOverrides::new(),
        &options,
    );
    let model = entry(&catalog, id);
    assert_eq!(model["display_name"], "evil]52;c;cm0gLXJmIH4=-model");
}

#[test]
fn metadata_catalog_says_where_each_context_window_came_from() {
    let options = CatalogOptions::new(INSTRUCTIONS).with_required_model("mystery");
    let discovered = [
        ModelMetadata::new("mystery"),
        with_window("small-8k", 8_192, None),
    ];
    let resolved = resolve_models(&discovered, &ModelOverrides::new(), &options);
    let source = |id: &str| {
        let model = resolved.iter().find(|r| r.id() == id).unwrap();
        model.context_window_source()
    };
    assert_eq!(
        source("mystery"),
        "codex-litellm's default: the backend reports no window; set [models.\"mystery\"] \
         context_window in litellm.toml"
    );
    assert_eq!(
        source("small-8k"),
        "GET /model/info model_info.max_input_tokens"
    );
}

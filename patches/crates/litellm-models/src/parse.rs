//! Pure parsers, one per answer shape. Each reads only the fields the backend's own code or
//! documentation defines (cited beside the reader) and records where every value came from.
//! A field that is missing, `null`, zero or of the wrong type is "not said", never an error;
//! only an answer that is not the expected shape at all is [`ParseError::Malformed`].

use std::collections::HashMap;
use std::collections::HashSet;

use serde_json::Value;

use crate::metadata::MetadataField;
use crate::metadata::ModelMetadata;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("{endpoint} answered with an unexpected shape: {problem}")]
    Malformed {
        endpoint: &'static str,
        problem: String,
    },
}

fn malformed(endpoint: &'static str, problem: impl Into<String>) -> ParseError {
    ParseError::Malformed {
        endpoint,
        problem: problem.into(),
    }
}

/// A positive token count. Zero means "unknown" in LiteLLM's types (`Optional[int] = 0`);
/// integral floats (`8192.0`) and numeric strings (`"32768"`) occur in hand-written
/// gateway configs and are accepted.
fn token_count(value: Option<&Value>) -> Option<u64> {
    let value = value?;
    let n = match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f > 0.0 && *f < 1e15)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    }?;
    (n > 0).then_some(n)
}

fn flag(value: Option<&Value>) -> Option<bool> {
    value.and_then(Value::as_bool)
}

fn data_array<'a>(body: &'a Value, endpoint: &'static str) -> Result<&'a Vec<Value>, ParseError> {
    match body.get("data") {
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(malformed(endpoint, "`data` is not an array")),
        None => Err(malformed(endpoint, "no `data` array")),
    }
}

/// Which kind of server answered `GET /models`, judged from the answer's own fields. It
/// decides which extra endpoint is worth one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendHint {
    /// `max_model_len` or `owned_by: "vllm"`: everything needed is already in `/models`.
    Vllm,
    /// `context_length` per model: everything is already in `/models`.
    OpenRouter,
    /// `owned_by: "llamacpp"`: the served window is in `GET /props`.
    LlamaCpp,
    /// `owned_by: "library"` / `"ollama"`: windows and capabilities are in `POST /api/show`.
    Ollama,
    /// Anything else (LiteLLM, OpenAI, unknown): `GET /model/info` is worth one try.
    Other,
}

/// `GET {base}/models` in all its flavours: plain OpenAI (`id` only), vLLM, LiteLLM
/// 1.108.7+, OpenRouter, llama.cpp, Ollama. Entries without a string `id` are skipped.
pub fn parse_models_list(body: &Value) -> Result<(Vec<ModelMetadata>, BackendHint), ParseError> {
    parse_models_list_limited(body, usize::MAX, &[]).map(|list| (list.models, list.hint))
}

/// What `GET /models` listed, as far as it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelsList {
    pub models: Vec<ModelMetadata>,
    pub hint: BackendHint,
    /// Entries with an id, including those beyond the limit.
    pub listed: usize,
}

/// [`parse_models_list`] describing only the first `max` entries (plus any in `wanted`
/// beyond them); the rest are only counted. Linear in the answer's length.
pub fn parse_models_list_limited(
    body: &Value,
    max: usize,
    wanted: &[String],
) -> Result<ModelsList, ParseError> {
    const ENDPOINT: &str = "GET /models";
    let items = data_array(body, ENDPOINT)?;
    let mut hint = BackendHint::Other;
    let mut listed = 0;
    let mut kept: Vec<(&str, &Value)> = Vec::new();
    for item in items {
        let Some(id) = id_of(item) else {
            continue;
        };
        listed += 1;
        hint = hint_from(hint, item);
        if kept.len() < max || wanted.iter().any(|w| w == id) {
            kept.push((id, item));
        }
    }
    let mut models: Vec<ModelMetadata> = kept
        .iter()
        .map(|(id, item)| describe_entry(id, item))
        .collect();
    // vLLM lists LoRA adapters with `parent` (the base model) and no `max_model_len`; an
    // adapter runs in its base model's window (the first entry of that id). Found in one
    // pass with a set, however long the list is.
    let parent_of = |item: &Value| {
        item.get("parent")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let needed: HashSet<String> = kept
        .iter()
        .filter_map(|(_, item)| parent_of(item))
        .collect();
    if !needed.is_empty() {
        let mut windows: HashMap<&str, Option<u64>> = HashMap::new();
        for item in items {
            if let Some(id) = id_of(item)
                && needed.contains(id)
                && !windows.contains_key(id)
            {
                windows.insert(id, describe_entry(id, item).context_window);
            }
        }
        for (model, (_, item)) in models.iter_mut().zip(&kept) {
            if model.context_window.is_none()
                && let Some(parent) = parent_of(item)
            {
                model.set_u64(
                    MetadataField::ContextWindow,
                    windows.get(parent.as_str()).copied().flatten(),
                    "GET /models max_model_len of the parent model (vLLM)",
                );
            }
        }
    }
    Ok(ModelsList {
        models,
        hint,
        listed,
    })
}

fn id_of(item: &Value) -> Option<&str> {
    item.get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn describe_entry(id: &str, item: &Value) -> ModelMetadata {
    let mut model = ModelMetadata::new(id);
    read_vllm_model_card(item, &mut model);
    read_litellm_models_entry(item, &mut model);
    read_openrouter_model(item, &mut model);
    model
}

fn hint_from(hint: BackendHint, item: &Value) -> BackendHint {
    let owned_by = item.get("owned_by").and_then(Value::as_str).unwrap_or("");
    let hint = match (hint, owned_by) {
        (BackendHint::Other, "vllm") => BackendHint::Vllm,
        (BackendHint::Other, "llamacpp") => BackendHint::LlamaCpp,
        (BackendHint::Other, "library" | "ollama") => BackendHint::Ollama,
        (hint, _) => hint,
    };
    if item.get("max_model_len").is_some() {
        BackendHint::Vllm
    } else if item.get("context_length").is_some() && item.get("top_provider").is_some() {
        BackendHint::OpenRouter
    } else {
        hint
    }
}

/// vLLM: `ModelCard.max_model_len` in `/v1/models`, filled from the engine's
/// `model_config.max_model_len` (vllm/entrypoints/openai/serving_models.py,
/// `show_available_models`) — the served limit for prompt + completion (`--max-model-len`).
fn read_vllm_model_card(item: &Value, model: &mut ModelMetadata) {
    model.set_u64(
        MetadataField::ContextWindow,
        token_count(item.get("max_model_len")),
        "GET /models max_model_len (vLLM)",
    );
}

/// LiteLLM proxy 1.108.7 and later add, per model in `/v1/models`, `max_input_tokens`,
/// `max_output_tokens` and `mode` (measured against 1.108.7; same meaning as in
/// `/model/info`, see [`parse_litellm_model_info`]).
fn read_litellm_models_entry(item: &Value, model: &mut ModelMetadata) {
    if model.context_window.is_none() {
        model.set_u64(
            MetadataField::ContextWindow,
            token_count(item.get("max_input_tokens")),
            "GET /models max_input_tokens (LiteLLM)",
        );
    }
    model.set_u64(
        MetadataField::MaxOutputTokens,
        token_count(item.get("max_output_tokens")),
        "GET /models max_output_tokens (LiteLLM)",
    );
    model.set_bool(
        MetadataField::IsChat,
        item.get("mode").and_then(Value::as_str).map(is_chat_mode),
        "GET /models mode (LiteLLM)",
    );
}

/// LiteLLM's `mode` values (litellm/types/utils.py, `ModelInfoBase.mode`): `chat` and
/// `responses` models take chat requests; `embedding`, `image_generation`, `completion`,
/// `audio_*`, `rerank`, `moderation` do not.
fn is_chat_mode(mode: &str) -> bool {
    matches!(mode, "chat" | "responses")
}

/// OpenRouter `GET /api/v1/models` (https://openrouter.ai/docs/models, "Model Object
/// Schema"): `context_length` (maximum context window in tokens),
/// `top_provider.max_completion_tokens`, `supported_parameters` (e.g. `tools`,
/// `reasoning`, `include_reasoning`) and `architecture.input_modalities` (`text`, `image`).
fn read_openrouter_model(item: &Value, model: &mut ModelMetadata) {
    if model.context_window.is_none() {
        model.set_u64(
            MetadataField::ContextWindow,
            token_count(item.get("context_length")),
            "GET /models context_length (OpenRouter)",
        );
    }
    if model.max_output_tokens.is_none() {
        model.set_u64(
            MetadataField::MaxOutputTokens,
            token_count(
                item.get("top_provider")
                    .and_then(|p| p.get("max_completion_tokens")),
            ),
            "GET /models top_provider.max_completion_tokens (OpenRouter)",
        );
    }
    if let Some(params) = item.get("supported_parameters").and_then(Value::as_array) {
        let has = |name: &str| params.iter().any(|p| p.as_str() == Some(name));
        const SOURCE: &str = "GET /models supported_parameters (OpenRouter)";
        model.set_bool(MetadataField::SupportsTools, Some(has("tools")), SOURCE);
        model.set_bool(
            MetadataField::SupportsReasoning,
            Some(has("reasoning") || has("include_reasoning")),
            SOURCE,
        );
        if has("parallel_tool_calls") {
            model.set_bool(MetadataField::SupportsParallelToolCalls, Some(true), SOURCE);
        }
    }
    if let Some(modalities) = item
        .get("architecture")
        .and_then(|a| a.get("input_modalities"))
        .and_then(Value::as_array)
    {
        model.set_bool(
            MetadataField::SupportsImages,
            Some(modalities.iter().any(|m| m.as_str() == Some("image"))),
            "GET /models architecture.input_modalities (OpenRouter)",
        );
    }
}

/// LiteLLM proxy `GET /model/info` (also `/v1/model/info`; docs.litellm.ai/docs/proxy/
/// model_management, "Get Model Information"): `data[]` of `{model_name, litellm_params,
/// model_info}`, one per deployment. `model_info` follows litellm/types/utils.py
/// `ModelInfoBase`: `max_input_tokens`, `max_output_tokens`, `max_tokens` (legacy: the
/// output cap when the provider gives one, else the input limit — so it is read as the
/// window only when neither of the others is given), `mode`, and the capability flags
/// `supports_function_calling`, `supports_parallel_function_calling`, `supports_reasoning`,
/// `supports_vision` (`null` when the gateway does not know). Values set under a
/// deployment's `model_info` in the gateway config win there, so an admin can fix them.
///
/// Several deployments behind one `model_name` are load-balanced: the smallest window and
/// output cap win, and a capability counts only if no deployment denies it.
pub fn parse_litellm_model_info(body: &Value) -> Result<Vec<ModelMetadata>, ParseError> {
    const ENDPOINT: &str = "GET /model/info";
    let items = data_array(body, ENDPOINT)?;
    let mut models: Vec<ModelMetadata> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for item in items {
        let Some(name) = item
            .get("model_name")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            continue;
        };
        let info = item.get("model_info").unwrap_or(&Value::Null);
        let deployment = litellm_deployment(name, info);
        match index.get(name) {
            Some(&i) => combine_deployments(&mut models[i], &deployment),
            None => {
                index.insert(name.to_string(), models.len());
                models.push(deployment);
            }
        }
    }
    Ok(models)
}

fn litellm_deployment(name: &str, info: &Value) -> ModelMetadata {
    let mut model = ModelMetadata::new(name);
    let input = token_count(info.get("max_input_tokens"));
    let output = token_count(info.get("max_output_tokens"));
    if input.is_some() {
        model.set_u64(
            MetadataField::ContextWindow,
            input,
            "GET /model/info model_info.max_input_tokens",
        );
    } else if output.is_none() {
        model.set_u64(
            MetadataField::ContextWindow,
            token_count(info.get("max_tokens")),
            "GET /model/info model_info.max_tokens",
        );
    }
    model.set_u64(
        MetadataField::MaxOutputTokens,
        output,
        "GET /model/info model_info.max_output_tokens",
    );
    let flags = [
        (MetadataField::SupportsTools, "supports_function_calling"),
        (
            MetadataField::SupportsParallelToolCalls,
            "supports_parallel_function_calling",
        ),
        (MetadataField::SupportsReasoning, "supports_reasoning"),
        (MetadataField::SupportsImages, "supports_vision"),
    ];
    for (field, key) in flags {
        model.set_bool(
            field,
            flag(info.get(key)),
            &format!("GET /model/info model_info.{key}"),
        );
    }
    model.set_bool(
        MetadataField::IsChat,
        info.get("mode").and_then(Value::as_str).map(is_chat_mode),
        "GET /model/info model_info.mode",
    );
    model
}

fn combine_deployments(existing: &mut ModelMetadata, other: &ModelMetadata) {
    let smaller = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let window = smaller(existing.context_window, other.context_window);
    if window != existing.context_window {
        existing.set_u64(
            MetadataField::ContextWindow,
            window,
            other.source(MetadataField::ContextWindow),
        );
    }
    let output = smaller(existing.max_output_tokens, other.max_output_tokens);
    if output != existing.max_output_tokens {
        existing.set_u64(
            MetadataField::MaxOutputTokens,
            output,
            other.source(MetadataField::MaxOutputTokens),
        );
    }
    let denied = |a: Option<bool>, b: Option<bool>| match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (a, b) => a.or(b),
    };
    let pairs = existing.bool_fields_beside(other);
    for (field, mine, theirs) in pairs {
        let combined = denied(mine, theirs);
        if combined != mine {
            existing.set_bool(field, combined, other.source(field));
        }
    }
}

/// Ollama `POST /api/show {"model": id}` (docs.ollama.com/api-reference/show-model-details;
/// ollama/docs/api.md "Show Model Information"): `parameters` is the Modelfile's parameter
/// text (`num_ctx 32768` per line) — `num_ctx` is the window Ollama actually serves and
/// truncates the prompt to; `model_info["<general.architecture>.context_length"]` is only
/// the trained maximum, so it is never used as the window. `capabilities` lists
/// `completion`, `tools`, `thinking`, `vision`, `embedding`.
pub fn parse_ollama_show(id: &str, body: &Value) -> Result<ModelMetadata, ParseError> {
    const ENDPOINT: &str = "POST /api/show";
    if !body.is_object() {
        return Err(malformed(ENDPOINT, "not a JSON object"));
    }
    let mut model = ModelMetadata::new(id);
    let num_ctx = body
        .get("parameters")
        .and_then(Value::as_str)
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut words = line.split_whitespace();
                (words.next() == Some("num_ctx"))
                    .then(|| words.next().and_then(|n| n.parse::<u64>().ok()))
                    .flatten()
            })
        })
        .filter(|n| *n > 0);
    model.set_u64(
        MetadataField::ContextWindow,
        num_ctx,
        "POST /api/show parameters num_ctx (Ollama)",
    );
    if let Some(capabilities) = body.get("capabilities").and_then(Value::as_array) {
        let has = |name: &str| capabilities.iter().any(|c| c.as_str() == Some(name));
        const SOURCE: &str = "POST /api/show capabilities (Ollama)";
        model.set_bool(MetadataField::SupportsTools, Some(has("tools")), SOURCE);
        model.set_bool(
            MetadataField::SupportsReasoning,
            Some(has("thinking")),
            SOURCE,
        );
        model.set_bool(MetadataField::SupportsImages, Some(has("vision")), SOURCE);
        model.set_bool(MetadataField::IsChat, Some(has("completion")), SOURCE);
    }
    Ok(model)
}

/// The trained maximum Ollama reports (`model_info["<arch>.context_length"]`), for messages
/// that tell the user how far `num_ctx` can go. Never used as the window.
pub fn ollama_trained_context_length(body: &Value) -> Option<u64> {
    let info = body.get("model_info")?;
    let arch = info.get("general.architecture")?.as_str()?;
    token_count(info.get(format!("{arch}.context_length").as_str()))
}

/// Ollama `GET /api/ps` (docs.ollama.com/api-reference/list-running-models; the CONTEXT
/// column of `ollama ps` in ollama/docs/context-length.mdx): `models[]` with `name` and
/// `context_length`, the window a loaded model runs with — what Ollama serves when the
/// Modelfile sets no `num_ctx` (its default depends on VRAM and `OLLAMA_CONTEXT_LENGTH`).
pub fn parse_ollama_ps(body: &Value) -> Result<Vec<ModelMetadata>, ParseError> {
    const ENDPOINT: &str = "GET /api/ps";
    let Some(items) = body.get("models").and_then(Value::as_array) else {
        return Err(malformed(ENDPOINT, "no `models` array"));
    };
    Ok(items
        .iter()
        .filter_map(|item| {
            let name = item
                .get("name")
                .or_else(|| item.get("model"))
                .and_then(Value::as_str)?;
            let mut model = ModelMetadata::new(name);
            model.set_u64(
                MetadataField::ContextWindow,
                token_count(item.get("context_length")),
                "GET /api/ps context_length (Ollama, loaded model)",
            );
            Some(model)
        })
        .collect())
}

/// llama.cpp `llama-server` `GET /props` (tools/server/README.md, "GET /props"):
/// `default_generation_settings.n_ctx` is the context of one slot — what one request can
/// use (`--ctx-size` divided among `--parallel` slots); `modalities.vision`;
/// `chat_template_caps.supports_tool_calls` / `supports_tools` and
/// `supports_parallel_tool_calls` (what the loaded chat template can render);
/// `model_alias` names the served model. The returned id is `model_alias` (may be empty).
pub fn parse_llamacpp_props(body: &Value) -> Result<ModelMetadata, ParseError> {
    const ENDPOINT: &str = "GET /props";
    let Some(settings) = body.get("default_generation_settings") else {
        return Err(malformed(ENDPOINT, "no `default_generation_settings`"));
    };
    let alias = body
        .get("model_alias")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut model = ModelMetadata::new(alias);
    model.set_u64(
        MetadataField::ContextWindow,
        token_count(settings.get("n_ctx")),
        "GET /props default_generation_settings.n_ctx (llama.cpp, per slot)",
    );
    model.set_bool(
        MetadataField::SupportsImages,
        flag(body.get("modalities").and_then(|m| m.get("vision"))),
        "GET /props modalities.vision (llama.cpp)",
    );
    if let Some(caps) = body.get("chat_template_caps") {
        model.set_bool(
            MetadataField::SupportsTools,
            flag(caps.get("supports_tool_calls")).or_else(|| flag(caps.get("supports_tools"))),
            "GET /props chat_template_caps (llama.cpp)",
        );
        model.set_bool(
            MetadataField::SupportsParallelToolCalls,
            flag(caps.get("supports_parallel_tool_calls")),
            "GET /props chat_template_caps.supports_parallel_tool_calls (llama.cpp)",
        );
    }
    Ok(model)
}

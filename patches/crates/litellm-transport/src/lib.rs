//! Chooses the transport for a provider: upstream's `ReqwestTransport` for Responses
//! providers, the codex-litellm bridge for chat providers. Codex builds the same
//! `/responses` request either way and parses the same Responses SSE stream back.

use async_trait::async_trait;
use codex_client::HttpTransport;
use codex_client::ReqwestTransport;
use codex_client::Request;
use codex_client::RequestBody;
use codex_client::Response;
use codex_client::StreamResponse;
use codex_client::TransportError;
use codex_litellm_bridge::Bridge;
use codex_litellm_bridge::BridgeOptions;
use codex_litellm_bridge::BridgeReply;
use codex_litellm_bridge::BridgeRequest;
use codex_model_provider_info::ModelProviderInfo;
use codex_model_provider_info::WireApi;
use futures::StreamExt;
use http::StatusCode;

/// The bridge options in force for `provider`, or `None` when it speaks Responses.
pub fn bridge_options(provider: &ModelProviderInfo) -> Option<BridgeOptions> {
    let mut options = match (&provider.litellm_bridge, provider.wire_api) {
        (Some(options), _) if options.enabled => options.clone(),
        (Some(_), WireApi::Responses) | (None, WireApi::Responses) => return None,
        (Some(options), WireApi::Chat) => BridgeOptions { enabled: true, ..options.clone() },
        (None, WireApi::Chat) => BridgeOptions::default(),
    };
    if options.idle_timeout_secs.is_none() {
        options.idle_timeout_secs = provider.stream_idle_timeout_ms.map(|ms| ms.div_ceil(1000).max(1));
    }
    Some(options)
}

pub enum ProviderTransport {
    Responses(ReqwestTransport),
    Chat { bridge: Bridge, direct: ReqwestTransport },
}

impl ProviderTransport {
    pub fn for_provider(provider: &ModelProviderInfo, client: reqwest::Client) -> Self {
        let direct = ReqwestTransport::new(client.clone());
        match bridge_options(provider) {
            None => ProviderTransport::Responses(direct),
            Some(options) => {
                let bridge = Bridge::new(client, options, provider.name.clone())
                    .with_refreshable_auth(provider.has_command_auth())
                    .with_observer(codex_litellm_runtime::exchange_observer())
                    .with_raw_capture(codex_litellm_runtime::raw_capture_limit());
                ProviderTransport::Chat { bridge, direct }
            }
        }
    }
}

/// Only the Responses endpoint is bridged; anything else (e.g. `GET /models`) goes as is.
fn is_responses_request(request: &Request) -> bool {
    let path = request.url.split('?').next().unwrap_or_default();
    path.trim_end_matches('/').ends_with("/responses")
}

#[async_trait]
impl HttpTransport for ProviderTransport {
    async fn execute(&self, request: Request) -> Result<Response, TransportError> {
        match self {
            ProviderTransport::Responses(direct) | ProviderTransport::Chat { direct, .. } => direct.execute(request).await,
        }
    }

    async fn stream(&self, request: Request) -> Result<StreamResponse, TransportError> {
        let (bridge, direct) = match self {
            ProviderTransport::Responses(direct) => return direct.stream(request).await,
            ProviderTransport::Chat { bridge, direct } => (bridge, direct),
        };
        if !is_responses_request(&request) {
            return direct.stream(request).await;
        }
        let body = match request.body {
            Some(RequestBody::Json(value)) => value,
            Some(RequestBody::Raw(bytes)) => serde_json_from_slice(&bytes)?,
            None => return Err(TransportError::Build("codex-litellm: the Responses request has no body".to_string())),
        };
        let reply = bridge
            .respond(BridgeRequest { url: request.url.clone(), headers: request.headers, body })
            .await;
        match reply {
            BridgeReply::Stream { headers, body } => Ok(StreamResponse {
                status: StatusCode::OK,
                headers,
                bytes: Box::pin(body.map(|chunk| chunk.map_err(|err| TransportError::Network(err.0)))),
            }),
            BridgeReply::HttpError { status, headers, body } => Err(TransportError::Http {
                status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                url: Some(codex_litellm_bridge::redact_url(&codex_litellm_bridge::chat_completions_url(&request.url))),
                headers: Some(headers),
                body: Some(body),
            }),
        }
    }
}

fn serde_json_from_slice(bytes: &[u8]) -> Result<serde_json::Value, TransportError> {
    serde_json::from_slice(bytes)
        .map_err(|err| TransportError::Build(format!("codex-litellm: the Responses request body is not JSON: {err}")))
}

//! The transport core uses for a provider: upstream's `ReqwestTransport` for Responses
//! providers, the codex-litellm bridge for chat providers. Codex builds the same
//! `/responses` request either way and parses the same Responses SSE stream back.

use codex_http_client::HttpTransport;
use codex_http_client::Request;
use codex_http_client::RequestBody;
use codex_http_client::RequestCompression;
use codex_http_client::ReqwestTransport;
use codex_http_client::Response;
use codex_http_client::StreamResponse;
use codex_http_client::TransportError;
use codex_litellm_bridge::Bridge;
use codex_litellm_bridge::BridgeReply;
use codex_model_provider_info::ModelProviderInfo;
use futures::StreamExt;
use http::StatusCode;
use std::future::Future;
use std::pin::Pin;

pub enum ProviderTransport {
    Responses(ReqwestTransport),
    Chat {
        bridge: Box<Bridge>,
        direct: ReqwestTransport,
    },
}

impl ProviderTransport {
    /// `direct` is the transport upstream would have used; chat providers keep it for
    /// requests the bridge does not translate.
    pub fn for_provider(provider: &ModelProviderInfo, direct: ReqwestTransport) -> Self {
        let Some(chat) = crate::registry::chat_provider(provider) else {
            return ProviderTransport::Responses(direct);
        };
        // The key's literal value is replaced wherever it appears (messages, telemetry).
        if let Some(key) = provider
            .env_key
            .as_deref()
            .and_then(|name| std::env::var(name).ok())
        {
            codex_litellm_bridge::redact::register_secret(&key);
        }
        let client = match codex_http_client::build_reqwest_client_with_custom_ca(
            reqwest::Client::builder(),
        ) {
            Ok(client) => client,
            Err(err) => {
                // The CA bundle problem is reported by upstream's own client too; the
                // bridge still works for backends with publicly trusted certificates.
                tracing::warn!("codex-litellm: custom CA bundle not used by the bridge: {err}");
                reqwest::Client::new()
            }
        };
        let bridge = Bridge::new(client, chat.options, provider.name.clone())
            .with_provider_id(chat.id.clone())
            .with_refreshable_auth(provider.has_command_auth())
            .with_observer(codex_litellm_runtime::exchange_observer())
            .with_raw_capture(codex_litellm_runtime::raw_capture_limit());
        ProviderTransport::Chat {
            bridge: Box::new(bridge),
            direct,
        }
    }
}

/// Only the Responses endpoint is bridged; anything else (e.g. `GET /models`) goes as is.
fn is_responses_request(request: &Request) -> bool {
    let path = request.url.split('?').next().unwrap_or_default();
    path.trim_end_matches('/').ends_with("/responses")
}

/// What the transport's methods return: boxed and type-erased, so the bridge's nested
/// futures are not part of the layout of every upstream future that awaits the transport
/// (with them, a release build of codex-tui overflows rustc's query depth limit computing
/// the layout of `RegularTask::run`). One allocation per request.
type Erased<'a, T> = Pin<Box<dyn Future<Output = Result<T, TransportError>> + Send + 'a>>;

impl HttpTransport for ProviderTransport {
    fn execute(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Response, TransportError>> + Send {
        let direct = match self {
            ProviderTransport::Responses(direct) | ProviderTransport::Chat { direct, .. } => direct,
        };
        let future: Erased<'_, Response> = Box::pin(direct.execute(request));
        future
    }

    fn stream(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<StreamResponse, TransportError>> + Send {
        let future: Erased<'_, StreamResponse> = Box::pin(self.stream_through_bridge(request));
        future
    }
}

impl ProviderTransport {
    async fn stream_through_bridge(
        &self,
        request: Request,
    ) -> Result<StreamResponse, TransportError> {
        let (bridge, direct) = match self {
            ProviderTransport::Responses(direct) => return direct.stream(request).await,
            ProviderTransport::Chat { bridge, direct } => (bridge, direct),
        };
        if !is_responses_request(&request) {
            return direct.stream(request).await;
        }
        // Upstream's encoded bytes go to the bridge shared, not copied: on a big history a
        // parsed copy kept beside them cost the size of the history again.
        let encoded = match &request.body {
            Some(RequestBody::EncodedJson(_))
                if request.compression == RequestCompression::None =>
            {
                request
                    .prepare_body_for_send()
                    .map_err(|err| {
                        TransportError::Build(format!(
                            "codex-litellm: the Responses request body: {err}"
                        ))
                    })?
                    .body
                    .unwrap_or_default()
            }
            Some(RequestBody::EncodedJson(encoded)) => encoded.as_bytes().to_vec().into(),
            Some(RequestBody::Raw(bytes)) => bytes.clone(),
            Some(RequestBody::Json(value)) => serde_json::to_vec(value)
                .map_err(|err| {
                    TransportError::Build(format!(
                        "codex-litellm: the Responses request body: {err}"
                    ))
                })?
                .into(),
            None => {
                return Err(TransportError::Build(
                    "codex-litellm: the Responses request has no body".to_string(),
                ));
            }
        };
        let reply = bridge
            .respond_encoded(request.url.clone(), request.headers, encoded)
            .await;
        match reply {
            BridgeReply::Stream { headers, body } => Ok(StreamResponse {
                status: StatusCode::OK,
                headers,
                bytes: Box::pin(
                    body.map(|chunk| chunk.map_err(|err| TransportError::Network(err.0))),
                ),
            }),
            BridgeReply::HttpError {
                status,
                headers,
                body,
            } => Err(TransportError::Http {
                status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                url: Some(codex_litellm_bridge::redact_url(
                    &codex_litellm_bridge::chat_completions_url(&request.url),
                )),
                headers: Some(headers),
                body: Some(body),
            }),
        }
    }
}

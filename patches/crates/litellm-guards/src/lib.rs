//! Guards over one bridge request. Pure: no I/O, no clock except the one handed in.
//!
//! Design rule (DESIGN.md §8): guards watch the conversation, never write it. They read
//! the Responses request body the bridge already has and either add one short,
//! documented instruction, end the turn with a clear message, or send the same request
//! to another configured model. They never synthesise a tool call or a command the
//! model did not make (docs/SECURITY.md says why).
//!
//! | guard | module | reads | does |
//! | --- | --- | --- | --- |
//! | continuation | [`continuation`] | the chat answer about to be handed to Codex, and whether the turn used tools | asks the model once more with [`continuation::NUDGE`] |
//! | loop | [`loop_guard`] | `input` items after the last user message | adds a note to the request, or ends the turn |
//! | fallback | [`fallback`] | the fault the primary's attempts ended on | picks the next model of `fallback = [...]`, with a circuit breaker |
//!
//! # Where each guard hooks into a bridge request
//!
//! The bridge's `respond` takes the Responses body (`model`, `input`, `tools`,
//! `tool_choice`, ...) and produces Responses events from a chat answer. In that order:
//!
//! 1. **Loop guard — before translating** (`translate_request`). Call
//!    [`loop_guard::check`]`(&policy, input)` on the body's `input` array.
//!    - [`loop_guard::Verdict::Clear`]: nothing to do.
//!    - [`loop_guard::Verdict::Note`]: send [`loop_guard::with_note`]`(&body, &note.text)`
//!      instead of `body` (one user message appended at the end of `input`; the history
//!      repair keeps it valid chat: `assistant(tool_calls) → tool → user`). The note is
//!      not shown to the user: it is part of the request only, never of the answer.
//!      Telemetry: count `loop_guard_notes` and keep `note.call.name`/`count`.
//!    - [`loop_guard::Verdict::Stop`]: do not call the backend. Answer Codex with one
//!      assistant message carrying `stop.message` and a normal `response.completed`
//!      (the turn ends, the user reads why); the diagnosis line says
//!      "stopped by the loop guard". Not `response.failed`: Codex would retry it.
//! 2. **Fallback — around the attempts** (`fetch`'s retry loop). Keep one
//!    [`fallback::CircuitBreaker`] per process (its clock is [`fallback::SystemClock`],
//!    tests use [`fallback::ManualClock`]). Candidates are
//!    `breaker.candidates(primary, &fallbacks)`, each a stable key such as
//!    `"<provider>/<model>"` (the chain comes from [`settings::fallback_chain`]). When the attempts on a candidate are
//!    spent, convert the last bridge `Fault` to [`fallback::FaultInfo`]
//!    (`serde_json::from_value(serde_json::to_value(&fault)?)` works: same tag and
//!    fields; a refusal in an answer is [`fallback::FaultInfo::Refusal`]) and call
//!    [`fallback::switch_reason`]`(&fault, &policy, windows)`. `Some(reason)`:
//!    `breaker.trip(model)`, translate the same Responses body again with the next
//!    candidate's model and options (its own provider's `BridgeOptions` when the entry
//!    names one), and tell the user [`fallback::SwitchReason::notice`] once (exec on
//!    stderr, TUI through the stream's notice path). `None`: hand the fault over as
//!    today. A success calls `breaker.record_success(model)`.
//! 3. **Continuation guard — after the answer is complete and validated, before its
//!    items are simulated** (buffered mode: before `simulate`; live mode: when the
//!    answer is settled, the first text is already on screen). Call
//!    [`continuation::ContinuationPolicy::decide`] with `turn_used_tools =
//!    `[`continuation::turn_used_tools`]`(input)`, the nudges already sent for this
//!    request, the answer's text and whether it has tool calls. On
//!    [`continuation::Decision::Nudge`], fetch again with
//!    [`continuation::nudged_body`]`(&body, &answer_text, nudge.tool_choice_required)`;
//!    the nudge is never shown as model output, and the follow-up's tool calls are shown
//!    as ordinary calls. Telemetry records each nudge; if the follow-up is still a
//!    promise once the retries are spent, hand it over and let the diagnosis say "turn
//!    ended after an unanswered nudge". All of it stays inside the turn's one retry
//!    budget and deadline.
//!
//! Settings (litellm.toml keys proposed in [`settings`]) are plain serde types; the
//! runtime parses the file and hands them in.

pub mod continuation;
pub mod fallback;
pub mod loop_guard;
pub mod settings;

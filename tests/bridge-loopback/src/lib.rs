//! Shared by the loopback tests in tests/ (faults, live, history, via LiteLLM, ...).

use codex_litellm_bridge::ExchangeObserver;
use codex_litellm_bridge::ExchangeReport;
use std::sync::Mutex;
use std::sync::PoisonError;

/// Every report the bridge hands to its observer, in order, and the notices it gave.
#[derive(Default)]
pub struct Reports(pub Mutex<Vec<ExchangeReport>>, pub Mutex<Vec<String>>);

impl ExchangeObserver for Reports {
    fn on_exchange(&self, report: &ExchangeReport) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(report.clone());
    }

    fn on_notice(&self, notice: &str) {
        self.1
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(notice.to_string());
    }
}

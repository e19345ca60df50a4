//! Prometheus metrics, served at `/metrics`: requests and their latency, command
//! outcomes, and projection lag (read when scraped).

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub commands: IntCounterVec,
    pub lag_events: IntGaugeVec,
    pub lag_seconds: GaugeVec,
    pub behind: IntGaugeVec,
    pub stopped: IntGaugeVec,
    pub establishments: IntGauge,
    pub not_started: IntGauge,
    pub notifications: IntGaugeVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("carnet".into()), None).unwrap_or_default();
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["route", "status"],
        );
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["route"],
        );
        let commands = IntCounterVec::new(
            Opts::new("commands_total", "Domain commands by name and outcome"),
            &["command", "outcome"],
        );
        // Per projection over every establishment: the number of establishments has no
        // bound, so it is never a label (`/status/projections` names the laggards).
        let lag_events = IntGaugeVec::new(
            Opts::new(
                "projection_lag_events",
                "Most events of an establishment's log a projection has not applied",
            ),
            &["projection"],
        );
        let lag_seconds = GaugeVec::new(
            Opts::new(
                "projection_lag_seconds",
                "Age of the oldest event a projection has not applied, any establishment",
            ),
            &["projection"],
        );
        let behind = IntGaugeVec::new(
            Opts::new(
                "projection_establishments_behind",
                "Establishments with events a projection has not applied",
            ),
            &["projection"],
        );
        let stopped = IntGaugeVec::new(
            Opts::new(
                "projection_establishments_stopped",
                "Establishments where a projection stopped at an event it cannot apply",
            ),
            &["projection"],
        );
        let establishments = IntGauge::new("establishments", "Establishments in the database");
        let not_started = IntGauge::new(
            "establishments_not_projected",
            "Establishments with events and a projection not started yet",
        );
        let notifications = IntGaugeVec::new(
            Opts::new(
                "notifications",
                "Notifications to guardians by status (pending, sent, dead, dropped) and channel",
            ),
            &["status", "channel"],
        );
        // The names and labels above are constants: these cannot fail.
        let (
            Ok(requests),
            Ok(latency),
            Ok(commands),
            Ok(lag_events),
            Ok(lag_seconds),
            Ok(behind),
            Ok(stopped),
            Ok(establishments),
            Ok(not_started),
            Ok(notifications),
        ) = (
            requests,
            latency,
            commands,
            lag_events,
            lag_seconds,
            behind,
            stopped,
            establishments,
            not_started,
            notifications,
        )
        else {
            unreachable!("metric definitions are constant and valid")
        };
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(commands.clone()),
            Box::new(lag_events.clone()),
            Box::new(lag_seconds.clone()),
            Box::new(behind.clone()),
            Box::new(stopped.clone()),
            Box::new(establishments.clone()),
            Box::new(not_started.clone()),
            Box::new(notifications.clone()),
        ] {
            let _ = registry.register(collector);
        }
        Metrics {
            registry,
            requests,
            latency,
            commands,
            lag_events,
            lag_seconds,
            behind,
            stopped,
            establishments,
            not_started,
            notifications,
        }
    }

    pub fn command(&self, command: &str, outcome: &str) {
        self.commands.with_label_values(&[command, outcome]).inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

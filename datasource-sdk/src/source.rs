//! The connector side: the [`DataSource`] trait and the [`Context`] a source reports through.

use std::fmt::Display;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use base64::Engine;
use serde_json::Value;
use tokio::sync::broadcast;

use crate::Result;
use crate::state::Map;

/// One record a source returns: a JSON object.
pub type Record = Map;

/// The name of the event a source fires when its parameters changed and must be saved.
pub const SOURCE_CHANGE: &str = "source-change";

/// A source of records: an API, a database, files.
///
/// The [`crate::Runner`] calls `read` until it returns `Ok(None)`, then `close`. On a retryable
/// error ([`crate::Error::is_retryable`]) it calls `read` again, so a source should be able to
/// go on from the state it reported. After a restart, [`Context::resume_state`] holds the state
/// committed by the last run, and [`Context::params`] the parameters with saved changes applied.
#[async_trait]
pub trait DataSource: Send {
    /// Up to about `n` records (a hint), or `None` at the end of the data.
    async fn read(&mut self, n: usize, ctx: &Context) -> Result<Option<Vec<Record>>>;

    /// Releases resources (connections, temporary files).
    async fn close(&mut self, _ctx: &Context) -> Result<()> {
        Ok(())
    }
}

#[async_trait]
impl<T: DataSource + ?Sized> DataSource for Box<T> {
    async fn read(&mut self, n: usize, ctx: &Context) -> Result<Option<Vec<Record>>> {
        (**self).read(n, ctx).await
    }
    async fn close(&mut self, ctx: &Context) -> Result<()> {
        (**self).close(ctx).await
    }
}

/// What a source or its run reported, for progress bars and monitoring.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SourceEvent {
    /// `progress(loaded, total, message)`.
    Progress {
        /// Resources loaded so far (rows, files, API calls).
        loaded: u64,
        /// Resources in all, when known.
        total: Option<u64>,
        /// Human-readable status.
        message: String,
    },
    /// An event fired by the source (other than `source-change`).
    Fired {
        /// Event name.
        name: String,
        /// Its data.
        data: Value,
    },
    /// Source parameters changed (e.g. a refreshed token); the runner saves them.
    SourceChange {
        /// The changed parameters.
        changes: Map,
    },
    /// A checkpoint was committed: every record before it is in the sink.
    Checkpoint {
        /// Records delivered up to it, over all runs.
        records: u64,
        /// The committed state.
        state: Map,
    },
    /// A read failed and will be tried again.
    ReadRetry {
        /// The attempt that will follow.
        attempt: u32,
        /// The error, as text.
        error: String,
    },
}

#[derive(Debug, Default)]
struct Reported {
    /// The state id of the last accepted read.
    state_id: Option<String>,
    /// The merged state as of the last accepted read.
    merged: Map,
    /// What the read attempt under way reported: kept apart until the runner accepts the
    /// attempt (it returned records), discarded when it failed or timed out.
    attempt_id: Option<String>,
    attempt: Map,
    changes: Map,
    progress: Option<(u64, Option<u64>, String)>,
}

/// Given to a source on every call: its parameters and options, the state to resume from, and
/// the ways to report back (`log`, `progress`, `state`, `raw`, `fire`).
///
/// Its `Debug` output names the parameters and options but never shows their values (they
/// hold tokens and passwords).
pub struct Context {
    params: Mutex<Map>,
    options: Map,
    resume: Map,
    reported: Mutex<Reported>,
    events: broadcast::Sender<SourceEvent>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update under these locks is a single insert or assignment: a panic elsewhere cannot
    // leave the data half-written, so a poisoned lock is still used.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let params: Vec<String> = lock(&self.params).keys().cloned().collect();
        let options: Vec<&String> = self.options.keys().collect();
        let resume: Vec<&String> = self.resume.keys().collect();
        f.debug_struct("Context")
            .field("params", &params)
            .field("options", &options)
            .field("resume_keys", &resume)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context with source parameters, options, and the state to resume from (empty at
    /// first). The runner builds one; tests of a source may build their own.
    pub fn new(params: Map, options: Map, resume: Map) -> Self {
        let (events, _) = broadcast::channel(1024);
        Self {
            params: Mutex::new(params),
            options,
            reported: Mutex::new(Reported {
                merged: resume.clone(),
                ..Reported::default()
            }),
            resume,
            events,
        }
    }

    /// The source parameters (with changes fired through `source-change` applied).
    pub fn params(&self) -> Map {
        lock(&self.params).clone()
    }

    /// One parameter as text, if it is a string.
    pub fn param_str(&self, name: &str) -> Option<String> {
        lock(&self.params)
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// Options: hints such as incremental keys or excluded fields, and secrets not kept with
    /// the parameters.
    pub fn options(&self) -> &Map {
        &self.options
    }

    /// The table records go to: the `destination` parameter, else the `type` parameter, else
    /// `"records"`.
    pub fn destination(&self) -> String {
        let params = lock(&self.params);
        ["destination", "type"]
            .iter()
            .find_map(|k| params.get(*k).and_then(Value::as_str))
            .filter(|s| !s.is_empty())
            .unwrap_or("records")
            .to_owned()
    }

    /// The state committed by the previous run (empty on a first run).
    pub fn resume_state(&self) -> &Map {
        &self.resume
    }

    /// The merged state reported so far, including what is not committed yet (and what the
    /// read under way reported).
    pub fn merged_state(&self) -> Map {
        let reported = lock(&self.reported);
        let mut merged = reported.merged.clone();
        for (k, v) in &reported.attempt {
            merged.insert(k.clone(), v.clone());
        }
        merged
    }

    /// Starts a read attempt: what it reports with [`Context::state`] is kept apart.
    pub(crate) fn begin_attempt(&self) {
        let mut reported = lock(&self.reported);
        reported.attempt_id = None;
        reported.attempt.clear();
    }

    /// The attempt returned: its state joins the merged state. Returns the state id its
    /// records carry and the merged state after them.
    pub(crate) fn accept_attempt(&self) -> (Option<String>, Map) {
        let mut reported = lock(&self.reported);
        let attempt = std::mem::take(&mut reported.attempt);
        for (k, v) in attempt {
            reported.merged.insert(k, v);
        }
        if let Some(id) = reported.attempt_id.take() {
            reported.state_id = Some(id);
        }
        (reported.state_id.clone(), reported.merged.clone())
    }

    /// The attempt failed or timed out: what it reported is forgotten.
    pub(crate) fn discard_attempt(&self) {
        self.begin_attempt();
    }

    /// Writes a message to the log (`tracing`, target `datasource`). Never log credentials.
    pub fn log(&self, message: impl Display) {
        tracing::info!(target: "datasource", "{message}");
    }

    /// Reports progress; call it at least once per `read`.
    pub fn progress(&self, loaded: u64, total: Option<u64>, message: impl Into<String>) {
        let message = message.into();
        lock(&self.reported).progress = Some((loaded, total, message.clone()));
        let _ = self.events.send(SourceEvent::Progress {
            loaded,
            total,
            message,
        });
    }

    /// The last progress reported, as `(loaded, total, message)`.
    pub fn last_progress(&self) -> Option<(u64, Option<u64>, String)> {
        lock(&self.reported).progress.clone()
    }

    /// Reports the state after the records being returned: every record of this read is stamped
    /// `__state = state_id`, and `state` is merged into the state so far (a later value for the
    /// same top-level key wins). It is committed once those records are in the sink. A read
    /// that then fails (or times out) takes its reported state with it: the retry starts from
    /// the state before that read.
    pub fn state(&self, state_id: impl Into<String>, state: Map) {
        let mut reported = lock(&self.reported);
        reported.attempt_id = Some(state_id.into());
        for (k, v) in state {
            reported.attempt.insert(k, v);
        }
    }

    /// The state id of the records being read, if one was reported.
    pub fn state_id(&self) -> Option<String> {
        let reported = lock(&self.reported);
        reported
            .attempt_id
            .clone()
            .or_else(|| reported.state_id.clone())
    }

    /// A raw message record: `{"type": "raw", "tag": tag, "raw": base64(bytes), "metadata":
    /// metadata}`.
    pub fn raw(&self, tag: impl Into<String>, bytes: &[u8], metadata: Map) -> Record {
        let mut record = Map::new();
        record.insert("type".into(), Value::from("raw"));
        record.insert("tag".into(), Value::from(tag.into()));
        record.insert(
            "raw".into(),
            Value::from(base64::engine::general_purpose::STANDARD.encode(bytes)),
        );
        record.insert("metadata".into(), Value::Object(metadata));
        record
    }

    /// Fires an event. [`SOURCE_CHANGE`] with an object of changed parameters applies them to
    /// [`Context::params`] and has the runner save them at once.
    pub fn fire(&self, event: &str, data: Value) {
        if event == SOURCE_CHANGE
            && let Value::Object(changes) = &data
        {
            {
                let mut params = lock(&self.params);
                for (k, v) in changes {
                    params.insert(k.clone(), v.clone());
                }
            }
            {
                let mut reported = lock(&self.reported);
                for (k, v) in changes {
                    reported.changes.insert(k.clone(), v.clone());
                }
            }
            let _ = self.events.send(SourceEvent::SourceChange {
                changes: changes.clone(),
            });
            return;
        }
        let _ = self.events.send(SourceEvent::Fired {
            name: event.to_owned(),
            data,
        });
    }

    /// Parameter changes fired since the last call, taken.
    pub(crate) fn take_changes(&self) -> Map {
        std::mem::take(&mut lock(&self.reported).changes)
    }

    /// Publishes a runner event on the context's channel.
    pub(crate) fn emit(&self, event: SourceEvent) {
        let _ = self.events.send(event);
    }

    /// Every event from now on (progress, fired events, checkpoints). A subscriber more than
    /// 1024 events behind misses the oldest.
    pub fn subscribe(&self) -> broadcast::Receiver<SourceEvent> {
        self.events.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn state_merges_later_keys_win() {
        let ctx = Context::new(Map::new(), Map::new(), obj(json!({"a": 1, "b": 1})));
        ctx.state("s1", obj(json!({"b": 2, "c": 2})));
        ctx.state("s2", obj(json!({"c": 3})));
        assert_eq!(ctx.merged_state(), obj(json!({"a": 1, "b": 2, "c": 3})));
        assert_eq!(ctx.state_id().as_deref(), Some("s2"));
        ctx.accept_attempt();
        ctx.begin_attempt();
        ctx.state("s3", obj(json!({"a": 9})));
        ctx.discard_attempt();
        assert_eq!(ctx.merged_state(), obj(json!({"a": 1, "b": 2, "c": 3})));
        assert_eq!(ctx.state_id().as_deref(), Some("s2"));
    }

    #[test]
    fn debug_shows_no_parameter_values() {
        let ctx = Context::new(
            obj(json!({"access_token": "sekrit-a", "password": "sekrit-p"})),
            obj(json!({"api_key": "sekrit-k"})),
            Map::new(),
        );
        let text = format!("{ctx:?}");
        assert!(text.contains("access_token"), "{text}");
        assert!(!text.contains("sekrit"), "{text}");
    }

    #[test]
    fn raw_message_and_destination() {
        let ctx = Context::new(obj(json!({"type": "github"})), Map::new(), Map::new());
        assert_eq!(ctx.destination(), "github");
        let r = ctx.raw("file.csv", b"hi", obj(json!({"__state": "s"})));
        assert_eq!(
            Value::Object(r),
            json!({"type": "raw", "tag": "file.csv", "raw": "aGk=", "metadata": {"__state": "s"}})
        );
    }

    #[test]
    fn source_change_updates_params_and_is_published() {
        let ctx = Context::new(obj(json!({"access_token": "old"})), Map::new(), Map::new());
        let mut rx = ctx.subscribe();
        ctx.fire(SOURCE_CHANGE, json!({"access_token": "new"}));
        ctx.fire("custom", json!(1));
        assert_eq!(ctx.param_str("access_token").as_deref(), Some("new"));
        assert_eq!(ctx.take_changes(), obj(json!({"access_token": "new"})));
        assert!(ctx.take_changes().is_empty());
        assert!(matches!(
            rx.try_recv(),
            Ok(SourceEvent::SourceChange { .. })
        ));
        assert!(matches!(rx.try_recv(), Ok(SourceEvent::Fired { name, .. }) if name == "custom"));
    }
}

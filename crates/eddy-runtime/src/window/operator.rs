//! The window operator: assigns records to windows per key, keeps their contents in
//! keyed state, and emits results when triggers fire.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use eddy_core::{Error, Records, Result, StreamRecord, Timestamp};
use eddy_state::{Key, KeyedStateBackend, ValueState, ValueStateDescriptor};

use super::assigners::WindowAssigner;
use super::contents::WindowContents;
use super::merging::{merge_sessions, Merge};
use super::triggers::{Trigger, TriggerContext, TriggerResult, TriggerServices};
use super::Window;
use crate::keyed_state::{KeyedState, ManagedState};
use crate::operator::{Operator, OperatorContext};
use crate::operators::{Collector, KeySelector, OutputTag};
use crate::output::Emitter;
use crate::timers::{Timer, TimerService};

/// What a window function knows about the firing window.
#[derive(Debug)]
pub struct WindowInfo<'a, W> {
    /// The window.
    pub window: &'a W,
    /// The current watermark.
    pub current_watermark: Timestamp,
    /// The current processing time.
    pub current_processing_time: Timestamp,
}

/// Turns a firing window's contents into output records.
pub trait WindowFunction<K, W, R, O>: Send + 'static {
    /// Emits the results of `window` for `key` from its `contents`.
    fn process(
        &mut self,
        key: &K,
        window: &WindowInfo<'_, W>,
        contents: R,
        out: &mut Collector<O>,
    ) -> Result<()>;
}

impl<K, W, R, O, F> WindowFunction<K, W, R, O> for F
where
    F: FnMut(&K, &WindowInfo<'_, W>, R, &mut Collector<O>) + Send + 'static,
{
    fn process(
        &mut self,
        key: &K,
        window: &WindowInfo<'_, W>,
        contents: R,
        out: &mut Collector<O>,
    ) -> Result<()> {
        self(key, window, contents, out);
        Ok(())
    }
}

type TriggerState<W> = ValueState<Vec<(String, i64)>, W>;

/// The window operator of a keyed stream.
pub struct WindowOperator<K, T, A: WindowAssigner, C, F, O> {
    key_selector: KeySelector<T, K>,
    assigner: A,
    trigger: Arc<dyn Trigger<A::W>>,
    allowed_lateness: i64,
    late_tag: Option<OutputTag<T>>,
    contents: C,
    function: F,
    backend: Option<KeyedStateBackend<K>>,
    timers: TimerService<K, A::W>,
    trigger_state: Option<TriggerState<A::W>>,
    sessions: Option<ValueState<Vec<A::W>>>,
    clock: Option<Arc<dyn eddy_core::time::Clock>>,
    late_dropped: Option<Arc<AtomicU64>>,
    windows: Vec<A::W>,
    _out: std::marker::PhantomData<fn() -> O>,
}

impl<K, T, A, C, F, O> WindowOperator<K, T, A, C, F, O>
where
    K: Key,
    T: Clone + Send + 'static,
    A: WindowAssigner,
    C: WindowContents<T, A::W>,
    F: WindowFunction<K, A::W, C::Result, O>,
    O: Clone + Send + 'static,
{
    /// A window operator. `trigger` replaces the assigner's default trigger.
    pub fn new(
        key_selector: KeySelector<T, K>,
        assigner: A,
        trigger: Option<Arc<dyn Trigger<A::W>>>,
        allowed_lateness: i64,
        late_tag: Option<OutputTag<T>>,
        contents: C,
        function: F,
    ) -> Self {
        let trigger = trigger.unwrap_or_else(|| Arc::from(assigner.default_trigger()));
        WindowOperator {
            key_selector,
            assigner,
            trigger,
            allowed_lateness: allowed_lateness.max(0),
            late_tag,
            contents,
            function,
            backend: None,
            timers: TimerService::new(),
            trigger_state: None,
            sessions: None,
            clock: None,
            late_dropped: None,
            windows: Vec::new(),
            _out: std::marker::PhantomData,
        }
    }

    fn now(&self) -> Timestamp {
        self.clock.as_ref().map_or(0, |c| c.now_millis())
    }

    fn cleanup_time(&self, window: &A::W) -> Timestamp {
        if self.assigner.is_event_time() {
            window.max_timestamp().saturating_add(self.allowed_lateness)
        } else {
            window.max_timestamp()
        }
    }

    fn is_window_late(&self, window: &A::W) -> bool {
        self.assigner.is_event_time()
            && self.cleanup_time(window) <= self.timers.current_watermark()
    }

    /// Merges a new session window into the key's active sessions and returns the
    /// window the record belongs to (or `None` if the merged session is late).
    fn merge_session(
        &mut self,
        window: A::W,
        backend: &mut KeyedStateBackend<K>,
        now: Timestamp,
    ) -> Option<A::W> {
        let sessions = self.sessions.as_ref()?;
        let active = sessions.value(backend).unwrap_or_default();
        let Merge { merged, absorbed } = merge_sessions(&active, |w| w, window);
        let mut rest = Vec::with_capacity(active.len() + 1);
        let mut sources = Vec::new();
        for (i, w) in active.into_iter().enumerate() {
            if absorbed.binary_search(&i).is_err() {
                rest.push(w);
            } else if w != merged {
                sources.push(w);
            }
        }
        if !sources.is_empty() {
            self.contents.merge(backend, &merged, &sources);
            let trigger_state = self.trigger_state.as_ref()?;
            let mut summed = trigger_state.take_in(backend, &merged).unwrap_or_default();
            for source in &sources {
                for (name, value) in trigger_state.take_in(backend, source).unwrap_or_default() {
                    match summed.iter_mut().find(|(n, _)| *n == name) {
                        Some(entry) => entry.1 += value,
                        None => summed.push((name, value)),
                    }
                }
                let key = backend.current_key()?.clone();
                let mut services = Services {
                    timers: &mut self.timers,
                    backend: &mut *backend,
                    trigger_state,
                    now,
                    key: &key,
                };
                self.trigger.clear(
                    source,
                    &mut TriggerContext {
                        services: &mut services,
                        window: source,
                    },
                );
                let cleanup = if self.assigner.is_event_time() {
                    source.max_timestamp().saturating_add(self.allowed_lateness)
                } else {
                    source.max_timestamp()
                };
                if self.assigner.is_event_time() {
                    self.timers.delete_event_time_timer(cleanup, &key, source);
                } else {
                    self.timers
                        .delete_processing_time_timer(cleanup, &key, source);
                }
            }
            if !summed.is_empty() {
                trigger_state.update_in(backend, &merged, summed);
            }
            let key = backend.current_key()?.clone();
            let mut services = Services {
                timers: &mut self.timers,
                backend: &mut *backend,
                trigger_state,
                now,
                key: &key,
            };
            self.trigger.on_merge(
                &merged,
                &mut TriggerContext {
                    services: &mut services,
                    window: &merged,
                },
            );
        }
        if self.is_window_late(&merged) {
            self.contents.clear(backend, &merged);
            rest.retain(|w| *w != merged);
            sessions.update(backend, rest);
            return None;
        }
        rest.push(merged.clone());
        sessions.update(backend, rest);
        Some(merged)
    }

    /// Hands `contents` of `window` for `key` to the window function.
    fn emit(
        &mut self,
        key: &K,
        window: &A::W,
        contents: C::Result,
        now: Timestamp,
        out: &mut Collector<O>,
    ) -> Result<()> {
        out.set_timestamp(Some(window.max_timestamp()));
        let info = WindowInfo {
            window,
            current_watermark: self.timers.current_watermark(),
            current_processing_time: now,
        };
        self.function.process(key, &info, contents, out)
    }

    fn register_cleanup_timer(&mut self, window: &A::W, key: &K) {
        let cleanup = self.cleanup_time(window);
        if cleanup == Timestamp::MAX {
            return;
        }
        if self.assigner.is_event_time() {
            self.timers.register_event_time_timer(cleanup, key, window);
        } else {
            self.timers
                .register_processing_time_timer(cleanup, key, window);
        }
    }

    /// Drops everything of `window` for `key` (the current key): its contents
    /// (unless `contents_taken`), its trigger's state and timers, and its
    /// session entry.
    fn clear_all_state(
        &mut self,
        window: &A::W,
        key: &K,
        backend: &mut KeyedStateBackend<K>,
        now: Timestamp,
        contents_taken: bool,
    ) {
        if !contents_taken {
            self.contents.clear(backend, window);
        }
        if let Some(trigger_state) = self.trigger_state.as_ref() {
            let mut services = Services {
                timers: &mut self.timers,
                backend: &mut *backend,
                trigger_state,
                now,
                key,
            };
            self.trigger.clear(
                window,
                &mut TriggerContext {
                    services: &mut services,
                    window,
                },
            );
            trigger_state.clear_in(backend, window);
        }
        if let Some(sessions) = self.sessions.as_ref() {
            let mut active = sessions.value(backend).unwrap_or_default();
            active.retain(|w| w != window);
            if active.is_empty() {
                sessions.clear(backend);
            } else {
                sessions.update(backend, active);
            }
        }
    }

    fn on_timer(
        &mut self,
        timer: Timer<K, A::W>,
        event_time: bool,
        backend: &mut KeyedStateBackend<K>,
        now: Timestamp,
        out: &mut Collector<O>,
    ) -> Result<()> {
        backend.set_current_key(timer.key.clone());
        let window = timer.namespace;
        if let Some(sessions) = self.sessions.as_ref() {
            if !sessions
                .value(backend)
                .unwrap_or_default()
                .contains(&window)
            {
                return Ok(());
            }
        }
        let Some(trigger_state) = self.trigger_state.as_ref() else {
            return Err(Error::Other("window operator used before open".into()));
        };
        let result = {
            let mut services = Services {
                timers: &mut self.timers,
                backend: &mut *backend,
                trigger_state,
                now,
                key: &timer.key,
            };
            let mut ctx = TriggerContext {
                services: &mut services,
                window: &window,
            };
            if event_time {
                self.trigger
                    .on_event_time(timer.timestamp, &window, &mut ctx)
            } else {
                self.trigger
                    .on_processing_time(timer.timestamp, &window, &mut ctx)
            }
        };
        let ends = self.assigner.is_event_time() == event_time
            && self.cleanup_time(&window) == timer.timestamp;
        if ends && result.is_fire() {
            // The window fires and ends: its contents are moved out, not copied.
            if let Some(contents) = self.contents.take(backend, &window) {
                self.emit(&timer.key, &window, contents, now, out)?;
            }
            self.clear_all_state(&window, &timer.key, backend, now, true);
            return Ok(());
        }
        self.apply(result, &window, &timer.key, backend, now, out)?;
        if ends {
            self.clear_all_state(&window, &timer.key, backend, now, false);
        }
        Ok(())
    }

    fn apply(
        &mut self,
        result: TriggerResult,
        window: &A::W,
        key: &K,
        backend: &mut KeyedStateBackend<K>,
        now: Timestamp,
        out: &mut Collector<O>,
    ) -> Result<()> {
        if result.is_fire() {
            if let Some(contents) = self.contents.get(backend, window) {
                self.emit(key, window, contents, now, out)?;
            }
        }
        if result.is_purge() {
            self.contents.clear(backend, window);
        }
        Ok(())
    }

    fn fire_processing_timers(
        &mut self,
        now: Timestamp,
        out: &mut Emitter<'_, Records<O>>,
    ) -> Result<()> {
        let mut backend = self
            .backend
            .take()
            .ok_or_else(|| Error::Other("window operator used before open".into()))?;
        let mut collector = Collector::new();
        let mut result = Ok(());
        while let Some(timer) = self.timers.pop_processing_time(now) {
            result = self.on_timer(timer, false, &mut backend, now, &mut collector);
            if result.is_err() {
                break;
            }
        }
        self.backend = Some(backend);
        result?;
        out.collect(collector.take())
    }
}

struct Services<'a, K, W> {
    timers: &'a mut TimerService<K, W>,
    backend: &'a mut KeyedStateBackend<K>,
    trigger_state: &'a TriggerState<W>,
    now: Timestamp,
    key: &'a K,
}

impl<K: Key, W: Window> TriggerServices<W> for Services<'_, K, W> {
    fn register_event_time_timer(&mut self, time: Timestamp, window: &W) {
        self.timers
            .register_event_time_timer(time, self.key, window);
    }
    fn delete_event_time_timer(&mut self, time: Timestamp, window: &W) {
        self.timers.delete_event_time_timer(time, self.key, window);
    }
    fn register_processing_time_timer(&mut self, time: Timestamp, window: &W) {
        self.timers
            .register_processing_time_timer(time, self.key, window);
    }
    fn delete_processing_time_timer(&mut self, time: Timestamp, window: &W) {
        self.timers
            .delete_processing_time_timer(time, self.key, window);
    }
    fn current_watermark(&self) -> Timestamp {
        self.timers.current_watermark()
    }
    fn current_processing_time(&self) -> Timestamp {
        self.now
    }
    fn get_state(&mut self, window: &W, name: &str) -> Option<i64> {
        self.trigger_state
            .value_in(self.backend, window)?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }
    fn set_state(&mut self, window: &W, name: &str, value: i64) {
        let mut entries = self
            .trigger_state
            .value_in(self.backend, window)
            .unwrap_or_default();
        match entries.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = value,
            None => entries.push((name.to_string(), value)),
        }
        self.trigger_state.update_in(self.backend, window, entries);
    }
    fn clear_state(&mut self, window: &W, name: &str) {
        if let Some(mut entries) = self.trigger_state.value_in(self.backend, window) {
            entries.retain(|(n, _)| n != name);
            if entries.is_empty() {
                self.trigger_state.clear_in(self.backend, window);
            } else {
                self.trigger_state.update_in(self.backend, window, entries);
            }
        }
    }
}

impl<K, T, A, C, F, O> Operator for WindowOperator<K, T, A, C, F, O>
where
    K: Key,
    T: Clone + Send + 'static,
    A: WindowAssigner,
    C: WindowContents<T, A::W>,
    F: WindowFunction<K, A::W, C::Result, O>,
    O: Clone + Send + 'static,
{
    type In = Records<T>;
    type Out = Records<O>;

    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        let KeyedState {
            mut backend,
            timers,
        } = ctx.keyed_state::<K, A::W>()?;
        self.timers = timers;
        self.contents.open(&mut backend)?;
        self.trigger_state =
            Some(backend.value_state_in(ValueStateDescriptor::new("window-trigger"))?);
        if self.assigner.session_gap().is_some() {
            self.sessions =
                Some(backend.value_state(ValueStateDescriptor::new("window-sessions"))?);
        }
        self.backend = Some(backend);
        self.clock = Some(ctx.clock.clone());
        self.late_dropped = Some(ctx.metric("numLateRecordsDropped"));
        Ok(())
    }

    fn process_batch(
        &mut self,
        batch: Records<T>,
        out: &mut Emitter<'_, Records<O>>,
    ) -> Result<()> {
        let mut backend = self
            .backend
            .take()
            .ok_or_else(|| Error::Other("window operator used before open".into()))?;
        let result = self.process_records(batch, &mut backend, out);
        self.backend = Some(backend);
        result
    }

    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        out: &mut Emitter<'_, Records<O>>,
    ) -> Result<()> {
        self.timers.advance_watermark(watermark);
        let mut backend = self
            .backend
            .take()
            .ok_or_else(|| Error::Other("window operator used before open".into()))?;
        let now = self.now();
        let mut collector = Collector::new();
        let mut result = Ok(());
        while let Some(timer) = self.timers.pop_event_time() {
            result = self.on_timer(timer, true, &mut backend, now, &mut collector);
            if result.is_err() {
                break;
            }
        }
        self.backend = Some(backend);
        result?;
        out.collect(collector.take())?;
        out.emit_watermark(watermark)
    }

    fn next_processing_time(&self) -> Option<Timestamp> {
        self.timers.peek_processing_time()
    }

    fn on_processing_time(
        &mut self,
        now: Timestamp,
        out: &mut Emitter<'_, Records<O>>,
    ) -> Result<()> {
        self.fire_processing_timers(now, out)
    }

    fn end_input(&mut self, out: &mut Emitter<'_, Records<O>>) -> Result<()> {
        // Bounded input: processing-time windows fire too, so no record is lost.
        self.fire_processing_timers(Timestamp::MAX, out)
    }

    fn managed_state(&mut self) -> Option<ManagedState<'_>> {
        Some(ManagedState::new(self.backend.as_mut()?).with_timers(&self.timers))
    }
}

impl<K, T, A, C, F, O> WindowOperator<K, T, A, C, F, O>
where
    K: Key,
    T: Clone + Send + 'static,
    A: WindowAssigner,
    C: WindowContents<T, A::W>,
    F: WindowFunction<K, A::W, C::Result, O>,
    O: Clone + Send + 'static,
{
    fn process_records(
        &mut self,
        batch: Records<T>,
        backend: &mut KeyedStateBackend<K>,
        out: &mut Emitter<'_, Records<O>>,
    ) -> Result<()> {
        let now = self.now();
        let mut collector = Collector::new();
        let mut late: Vec<StreamRecord<T>> = Vec::new();
        let mut windows = std::mem::take(&mut self.windows);
        for record in batch {
            let key = (self.key_selector)(&record.value);
            backend.set_current_key(key.clone());
            windows.clear();
            self.assigner
                .assign_windows(record.timestamp, now, &mut windows)?;
            if self.sessions.is_some() {
                let assigned = std::mem::take(&mut windows);
                for window in assigned {
                    if let Some(merged) = self.merge_session(window, backend, now) {
                        windows.push(merged);
                    }
                }
            }
            let mut skipped = true;
            let count = windows.len();
            let mut value = Some(record.value);
            for (i, window) in windows.iter().enumerate() {
                if self.is_window_late(window) {
                    continue;
                }
                skipped = false;
                let v = if i + 1 == count {
                    value.take()
                } else {
                    value.clone()
                };
                let Some(v) = v else { break };
                let first = self.contents.add(backend, window, v);
                if !first
                    && self.sessions.is_none()
                    && self.trigger.repeats_on_element()
                    && window.max_timestamp() > self.timers.current_watermark()
                {
                    // The trigger and cleanup timers of this window were
                    // registered with its first record.
                    continue;
                }
                let Some(trigger_state) = self.trigger_state.as_ref() else {
                    return Err(Error::Other("window operator used before open".into()));
                };
                let result = {
                    let mut services = Services {
                        timers: &mut self.timers,
                        backend: &mut *backend,
                        trigger_state,
                        now,
                        key: &key,
                    };
                    self.trigger.on_element(
                        record.timestamp,
                        window,
                        &mut TriggerContext {
                            services: &mut services,
                            window,
                        },
                    )
                };
                self.apply(result, window, &key, backend, now, &mut collector)?;
                self.register_cleanup_timer(window, &key);
            }
            if skipped {
                if let Some(value) = value {
                    let element_late = self.assigner.is_event_time()
                        && record.timestamp.is_some_and(|ts| {
                            ts.saturating_add(self.allowed_lateness)
                                <= self.timers.current_watermark()
                        });
                    if element_late {
                        if self.late_tag.is_some() {
                            late.push(StreamRecord {
                                value,
                                timestamp: record.timestamp,
                            });
                        } else if let Some(counter) = &self.late_dropped {
                            counter.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        }
        self.windows = windows;
        if let (Some(tag), false) = (&self.late_tag, late.is_empty()) {
            out.side_output(tag.id(), late)?;
        }
        out.collect(collector.take())
    }
}

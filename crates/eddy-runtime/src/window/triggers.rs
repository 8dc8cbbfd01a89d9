//! Triggers: when a window's result is emitted and whether it is purged.

use eddy_core::Timestamp;

use super::Window;

/// What a trigger decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TriggerResult {
    /// Do nothing.
    Continue,
    /// Emit the window's result; keep its contents.
    Fire,
    /// Drop the window's contents without emitting.
    Purge,
    /// Emit the window's result, then drop its contents.
    FireAndPurge,
}

impl TriggerResult {
    /// Whether the window's result is emitted.
    pub fn is_fire(self) -> bool {
        matches!(self, TriggerResult::Fire | TriggerResult::FireAndPurge)
    }

    /// Whether the window's contents are dropped.
    pub fn is_purge(self) -> bool {
        matches!(self, TriggerResult::Purge | TriggerResult::FireAndPurge)
    }
}

/// The window operator's services for a trigger, for the current key.
pub trait TriggerServices<W> {
    /// Registers an event-time timer for the current key and `window`.
    fn register_event_time_timer(&mut self, time: Timestamp, window: &W);
    /// Deletes an event-time timer.
    fn delete_event_time_timer(&mut self, time: Timestamp, window: &W);
    /// Registers a processing-time timer.
    fn register_processing_time_timer(&mut self, time: Timestamp, window: &W);
    /// Deletes a processing-time timer.
    fn delete_processing_time_timer(&mut self, time: Timestamp, window: &W);
    /// The current watermark.
    fn current_watermark(&self) -> Timestamp;
    /// The current processing time.
    fn current_processing_time(&self) -> Timestamp;
    /// A named integer of the trigger for the current key and `window`.
    fn get_state(&mut self, window: &W, name: &str) -> Option<i64>;
    /// Sets a named integer of the trigger.
    fn set_state(&mut self, window: &W, name: &str, value: i64);
    /// Removes a named integer of the trigger.
    fn clear_state(&mut self, window: &W, name: &str);
}

/// What a trigger can do for the window it is called for: timers, time, and
/// per-window integer state (summed when session windows merge).
pub struct TriggerContext<'a, W> {
    pub(crate) services: &'a mut dyn TriggerServices<W>,
    pub(crate) window: &'a W,
}

impl<W> TriggerContext<'_, W> {
    /// Registers an event-time timer for this window.
    pub fn register_event_time_timer(&mut self, time: Timestamp) {
        self.services.register_event_time_timer(time, self.window);
    }
    /// Deletes an event-time timer of this window.
    pub fn delete_event_time_timer(&mut self, time: Timestamp) {
        self.services.delete_event_time_timer(time, self.window);
    }
    /// Registers a processing-time timer for this window.
    pub fn register_processing_time_timer(&mut self, time: Timestamp) {
        self.services
            .register_processing_time_timer(time, self.window);
    }
    /// Deletes a processing-time timer of this window.
    pub fn delete_processing_time_timer(&mut self, time: Timestamp) {
        self.services
            .delete_processing_time_timer(time, self.window);
    }
    /// The current watermark.
    pub fn current_watermark(&self) -> Timestamp {
        self.services.current_watermark()
    }
    /// The current processing time.
    pub fn current_processing_time(&self) -> Timestamp {
        self.services.current_processing_time()
    }
    /// A named integer of this trigger for this window and key.
    pub fn get_state(&mut self, name: &str) -> Option<i64> {
        self.services.get_state(self.window, name)
    }
    /// Sets a named integer of this trigger.
    pub fn set_state(&mut self, name: &str, value: i64) {
        self.services.set_state(self.window, name, value);
    }
    /// Removes a named integer of this trigger.
    pub fn clear_state(&mut self, name: &str) {
        self.services.clear_state(self.window, name);
    }
}

/// Decides when windows fire. Implement it for custom firing logic.
pub trait Trigger<W: Window>: Send + Sync + 'static {
    /// A record was added to `window`.
    fn on_element(
        &self,
        timestamp: Option<Timestamp>,
        window: &W,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult;
    /// Whether [`Trigger::on_element`], for a window whose end the watermark
    /// has not passed, only registers the timers it registered for the
    /// window's first record and continues: then the window operator calls it
    /// for the first record of each window only (no timer lookup per record).
    fn repeats_on_element(&self) -> bool {
        false
    }
    /// An event-time timer of this trigger fired.
    fn on_event_time(
        &self,
        time: Timestamp,
        window: &W,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult;
    /// A processing-time timer of this trigger fired.
    fn on_processing_time(
        &self,
        time: Timestamp,
        window: &W,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult;
    /// The window is being removed: delete timers and state.
    fn clear(&self, window: &W, ctx: &mut TriggerContext<'_, W>);
    /// Session windows merged into `window` (their trigger state is already summed).
    fn on_merge(&self, window: &W, ctx: &mut TriggerContext<'_, W>) {
        let _ = (window, ctx);
    }
}

/// Fires when the watermark passes the end of the window (and again for each late
/// record within the allowed lateness).
#[derive(Clone, Copy, Debug, Default)]
pub struct EventTimeTrigger;

impl<W: Window> Trigger<W> for EventTimeTrigger {
    fn repeats_on_element(&self) -> bool {
        true
    }
    fn on_element(
        &self,
        _: Option<Timestamp>,
        window: &W,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        if window.max_timestamp() <= ctx.current_watermark() {
            TriggerResult::Fire
        } else {
            ctx.register_event_time_timer(window.max_timestamp());
            TriggerResult::Continue
        }
    }
    fn on_event_time(
        &self,
        time: Timestamp,
        window: &W,
        _: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        if time == window.max_timestamp() {
            TriggerResult::Fire
        } else {
            TriggerResult::Continue
        }
    }
    fn on_processing_time(
        &self,
        _: Timestamp,
        _: &W,
        _: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }
    fn clear(&self, window: &W, ctx: &mut TriggerContext<'_, W>) {
        ctx.delete_event_time_timer(window.max_timestamp());
    }
    fn on_merge(&self, window: &W, ctx: &mut TriggerContext<'_, W>) {
        if window.max_timestamp() > ctx.current_watermark() {
            ctx.register_event_time_timer(window.max_timestamp());
        }
    }
}

/// Fires when processing time passes the end of the window.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessingTimeTrigger;

impl<W: Window> Trigger<W> for ProcessingTimeTrigger {
    fn on_element(
        &self,
        _: Option<Timestamp>,
        window: &W,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        ctx.register_processing_time_timer(window.max_timestamp());
        TriggerResult::Continue
    }
    fn on_event_time(&self, _: Timestamp, _: &W, _: &mut TriggerContext<'_, W>) -> TriggerResult {
        TriggerResult::Continue
    }
    fn on_processing_time(
        &self,
        _: Timestamp,
        _: &W,
        _: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        TriggerResult::Fire
    }
    fn clear(&self, window: &W, ctx: &mut TriggerContext<'_, W>) {
        ctx.delete_processing_time_timer(window.max_timestamp());
    }
    fn on_merge(&self, window: &W, ctx: &mut TriggerContext<'_, W>) {
        ctx.register_processing_time_timer(window.max_timestamp());
    }
}

/// Fires every `count` records of a window.
#[derive(Clone, Copy, Debug)]
pub struct CountTrigger {
    count: i64,
}

impl CountTrigger {
    /// Fires once `count` records were added since the last firing.
    pub fn of(count: u64) -> Self {
        CountTrigger {
            count: i64::try_from(count.max(1)).unwrap_or(i64::MAX),
        }
    }
}

const COUNT: &str = "count";

impl<W: Window> Trigger<W> for CountTrigger {
    fn on_element(
        &self,
        _: Option<Timestamp>,
        _: &W,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        let seen = ctx.get_state(COUNT).unwrap_or(0) + 1;
        if seen >= self.count {
            ctx.clear_state(COUNT);
            TriggerResult::Fire
        } else {
            ctx.set_state(COUNT, seen);
            TriggerResult::Continue
        }
    }
    fn on_event_time(&self, _: Timestamp, _: &W, _: &mut TriggerContext<'_, W>) -> TriggerResult {
        TriggerResult::Continue
    }
    fn on_processing_time(
        &self,
        _: Timestamp,
        _: &W,
        _: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }
    fn clear(&self, _: &W, ctx: &mut TriggerContext<'_, W>) {
        ctx.clear_state(COUNT);
    }
    fn on_merge(&self, _: &W, ctx: &mut TriggerContext<'_, W>) {
        if ctx.get_state(COUNT).unwrap_or(0) >= self.count {
            ctx.clear_state(COUNT);
        }
    }
}

/// Turns every firing of the wrapped trigger into fire-and-purge.
pub struct PurgingTrigger<T> {
    inner: T,
}

impl<T> PurgingTrigger<T> {
    /// Wraps `inner`.
    pub fn of(inner: T) -> Self {
        PurgingTrigger { inner }
    }
}

fn purging(result: TriggerResult) -> TriggerResult {
    if result.is_fire() {
        TriggerResult::FireAndPurge
    } else {
        result
    }
}

impl<W: Window, T: Trigger<W>> Trigger<W> for PurgingTrigger<T> {
    fn on_element(
        &self,
        ts: Option<Timestamp>,
        w: &W,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        purging(self.inner.on_element(ts, w, ctx))
    }
    fn on_event_time(&self, t: Timestamp, w: &W, ctx: &mut TriggerContext<'_, W>) -> TriggerResult {
        purging(self.inner.on_event_time(t, w, ctx))
    }
    fn on_processing_time(
        &self,
        t: Timestamp,
        w: &W,
        ctx: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        purging(self.inner.on_processing_time(t, w, ctx))
    }
    fn clear(&self, w: &W, ctx: &mut TriggerContext<'_, W>) {
        self.inner.clear(w, ctx);
    }
    fn on_merge(&self, w: &W, ctx: &mut TriggerContext<'_, W>) {
        self.inner.on_merge(w, ctx);
    }
}

/// Never fires (the default of global windows).
#[derive(Clone, Copy, Debug, Default)]
pub struct NeverTrigger;

impl<W: Window> Trigger<W> for NeverTrigger {
    fn on_element(
        &self,
        _: Option<Timestamp>,
        _: &W,
        _: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }
    fn on_event_time(&self, _: Timestamp, _: &W, _: &mut TriggerContext<'_, W>) -> TriggerResult {
        TriggerResult::Continue
    }
    fn on_processing_time(
        &self,
        _: Timestamp,
        _: &W,
        _: &mut TriggerContext<'_, W>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }
    fn clear(&self, _: &W, _: &mut TriggerContext<'_, W>) {}
}

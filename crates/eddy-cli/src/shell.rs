//! The interactive SQL shell: line editing, history, statements ending with `;`.
//!
//! As in Flink's SQL client, an `INSERT` is submitted and the shell goes on
//! (`SET 'table.dml-sync' = 'true'` waits for it); `SHOW JOBS` and `STOP JOB`
//! control the jobs. Ctrl-C cancels the statement that runs and returns to the
//! prompt; jobs still running when the shell exits are cancelled.
//!
//! With `-m HOST:PORT` the statements run in a session of that JobManager's
//! SQL Gateway instead ([`RemoteSession`]): each `INSERT` becomes a job on its
//! cluster and the shell prints its id; a query's rows come back; the jobs run
//! on when the shell exits.

use std::process::ExitCode;

use eddy_sql::{render, Session};
use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;

use crate::submit::RemoteSession;

/// Where the shell's statements run.
trait Statements {
    /// Runs the statements of `text` and prints what they give.
    fn execute(&mut self, text: &str) -> Result<(), String>;

    /// The shell ends.
    fn finish(&mut self);
}

impl Statements for Session {
    fn execute(&mut self, text: &str) -> Result<(), String> {
        self.execute_script(text, |o| print!("{}", render(o)))
            .map_err(|e| e.to_string())
    }

    fn finish(&mut self) {
        if self.has_background_jobs() {
            let cancelled = self.cancel_background_jobs();
            eprintln!("eddy: cancelled {cancelled} job(s) still running as the shell exits");
        }
    }
}

impl Statements for RemoteSession {
    fn execute(&mut self, text: &str) -> Result<(), String> {
        for statement in eddy_sql::script::split(text).map_err(|e| e.to_string())? {
            RemoteSession::execute(self, &statement.text)?;
        }
        Ok(())
    }

    fn finish(&mut self) {
        self.close();
    }
}

/// Reads statements for `session` until `QUIT;`, `EXIT;` or end of input.
pub fn run(session: &mut Session) -> ExitCode {
    session.set_dml_sync_default(false);
    // Ctrl-C while a statement runs cancels it (at the prompt, the line editor
    // reads it as a key and clears the line).
    if let Err(e) =
        signal_hook::flag::register(signal_hook::consts::SIGINT, session.interrupt_flag())
    {
        eprintln!("eddy: Ctrl-C will end the shell: {e}");
    }
    repl(session)
}

/// Reads statements for a session of a JobManager's SQL Gateway.
pub fn run_remote(session: &mut RemoteSession) -> ExitCode {
    let interrupt = session.interrupt_flag();
    if let Err(e) = signal_hook::flag::register(signal_hook::consts::SIGINT, interrupt.clone()) {
        eprintln!("eddy: Ctrl-C will end the shell: {e}");
    }
    repl(session)
}

fn repl(session: &mut dyn Statements) -> ExitCode {
    let mut editor = match DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("eddy: cannot open the terminal: {e}");
            return ExitCode::FAILURE;
        }
    };
    let history =
        std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".eddy_sql_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!("eddy SQL shell. End statements with ';'. QUIT; leaves.");
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            "eddy> "
        } else {
            "   -> "
        };
        match editor.readline(prompt) {
            Ok(line) => {
                buffer.push_str(&line);
                buffer.push('\n');
                if !line.trim_end().ends_with(';') {
                    continue;
                }
                let text = std::mem::take(&mut buffer);
                let _ = editor.add_history_entry(text.trim());
                if let Some(h) = &history {
                    let _ = editor.save_history(h);
                }
                let trimmed = text
                    .trim()
                    .trim_end_matches(';')
                    .trim()
                    .to_ascii_uppercase();
                if trimmed == "QUIT" || trimmed == "EXIT" {
                    break;
                }
                if trimmed == "CLEAR" {
                    // Clear the screen and put the cursor home.
                    print!("\x1b[2J\x1b[H");
                    continue;
                }
                if let Err(e) = session.execute(&text) {
                    eprintln!("[ERROR] {e}");
                }
            }
            Err(ReadlineError::Interrupted) => buffer.clear(),
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("eddy: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    session.finish();
    ExitCode::SUCCESS
}

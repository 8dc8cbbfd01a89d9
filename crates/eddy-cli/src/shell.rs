//! The interactive SQL shell: line editing, history, statements ending with `;`.

use std::process::ExitCode;

use eddy_sql::{render, Session};
use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;

/// Reads statements until `QUIT;`, `EXIT;` or end of input.
pub fn run(session: &mut Session) -> ExitCode {
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
                let trimmed = text
                    .trim()
                    .trim_end_matches(';')
                    .trim()
                    .to_ascii_uppercase();
                if trimmed == "QUIT" || trimmed == "EXIT" {
                    break;
                }
                match session.execute_script(&text, |o| print!("{}", render(o))) {
                    Ok(()) => {}
                    Err(e) => eprintln!("[ERROR] {e}"),
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
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    ExitCode::SUCCESS
}

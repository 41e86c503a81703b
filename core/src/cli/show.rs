//! `panechat show`: one conversation.

use panechat::schema::ConversationDoc;
use panechat::store::conversation::ConversationId;
use panechat::store::mapping;
use panechat::target::{self, Target};
use panechat::{Error, Result};

use super::ctx::Ctx;
use super::output::{out, out_json, out_raw};
use super::ui::{self, Picked};

/// `panechat show [TARGET] [--json]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// last, prev, pick, or an id or unique prefix (default: this session's active one).
    target: Option<String>,
    /// Print JSON: id, title, parent, turns, messages [{role, content, at, model, usage, attachments}].
    #[arg(long, conflicts_with = "raw")]
    json: bool,
    /// Print the text exactly as stored, terminal escape sequences included (by default every
    /// control character is removed, so that a reply cannot act on the terminal).
    #[arg(long)]
    raw: bool,
    /// Show attached text (panes, piped input, files) in full, not one line each.
    #[arg(long, short = 'a')]
    attachments: bool,
}

/// Resolves an optional target to an id (default: the session's active conversation).
pub fn resolve(ctx: &mut Ctx, target: Option<&str>) -> Result<ConversationId> {
    let session = ctx.session()?;
    match target {
        None => mapping::read(&ctx.paths, &session.key)?
            .and_then(|r| r.active)
            .filter(|id| ctx.store.exists(id))
            .ok_or_else(|| Error::NotFound("this session has no active conversation; name one (see `panechat ls`) or start one with `panechat q`".into())),
        Some(t) => match Target::parse(t)? {
            Target::Pick => match ui::pick(ctx, "Conversation", None)? {
                Picked::Id(id) => Ok(id),
                Picked::New => Err(Error::Cancelled("no conversation picked".into())),
            },
            other => target::resolve_keyword(&ctx.store, &session.key, &other),
        },
    }
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let id = resolve(ctx, args.target.as_deref())?;
    let conv = ctx.store.load(&id)?;
    if args.json {
        out_json(&ConversationDoc::from(&conv))?;
        return Ok(0);
    }
    // Model text goes in as stored: `out` removes its controls, `--raw` keeps them.
    let text = render(&conv, args.attachments);
    if args.raw {
        out_raw(&text)?;
    } else {
        out(&text)?;
    }
    Ok(0)
}

/// The conversation as text: a heading (title, id, turns, age, parent), the system prompt,
/// then each turn: its attachments (in full with `attachments`, else one line each), the
/// message after `>>> ` and the reply.
fn render(conv: &panechat::store::conversation::Conversation, attachments: bool) -> String {
    let s = conv.summary();
    let mut text = format!(
        "# {}\n{} · {} · updated {} ago",
        s.display_title(),
        s.id,
        super::ui::turns(s.turns),
        panechat::time::ago(&s.updated_at)
    );
    if let Some(p) = &s.parent {
        text.push_str(&format!(
            " · fork of {} ({} kept)",
            p.id,
            super::ui::turns(p.turns_kept)
        ));
    }
    text.push('\n');
    if let Some(sys) = &conv.system {
        text.push_str(&format!("system: {}\n", sys));
    }
    for t in &conv.turns {
        text.push('\n');
        for a in &t.attachments {
            if attachments {
                text.push_str(&format!("[attached: {}, {}]\n", a.source, a.size()));
                text.push_str(&a.text);
                text.push_str("\n[end of attachment]\n");
            } else {
                text.push_str(&format!(
                    "[attached: {}, {}] (show --attachments prints it)\n",
                    a.source,
                    a.size()
                ));
            }
        }
        text.push_str(">>> ");
        text.push_str(&t.user.replace('\n', "\n    "));
        text.push_str("\n\n");
        text.push_str(&t.assistant);
        if !t.assistant.ends_with('\n') {
            text.push('\n');
        }
    }
    text
}

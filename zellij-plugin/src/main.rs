//! panechat's Zellij plugin: the shim between `zellij-tile` and the plugin's logic
//! (`panechat-zellij-model`, which holds the state, the reducer and the rendering and is tested
//! natively). This file only translates Zellij events into inputs and performs effects.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use panechat_zellij_model::{self as model, drive, Effect, Host, Input, Key, Placement};
use zellij_tile::prelude::actions::{Action, RunCommandAction};
use zellij_tile::prelude::*;

#[derive(Default)]
struct Plugin {
    state: model::State,
}

// `register_plugin!(Plugin)`, except for `update`: zellij-tile 0.45.1 decodes a key's
// character as its low byte only (`char_index as u8 as char`: 漢, U+6F22, arrives as `"`), so
// key events are decoded here from the code point Zellij sent.
thread_local! {
    static STATE: std::cell::RefCell<Plugin> = std::cell::RefCell::new(Default::default());
}

fn main() {
    std::panic::set_hook(Box::new(|info| {
        report_panic(info);
    }));
}

#[no_mangle]
fn load() {
    use zellij_tile::shim::plugin_api::action::ProtobufPluginConfiguration;
    use zellij_tile::shim::prost::Message;
    STATE.with(|state| {
        let bytes: Vec<u8> = zellij_tile::shim::object_from_stdin().unwrap();
        let cfg = ProtobufPluginConfiguration::decode(bytes.as_slice()).unwrap();
        let cfg: BTreeMap<String, String> = BTreeMap::try_from(&cfg).unwrap();
        state.borrow_mut().load(cfg);
    });
}

#[no_mangle]
pub fn update() -> bool {
    use zellij_tile::shim::plugin_api::event::{ProtobufEvent, ProtobufEventPayload};
    use zellij_tile::shim::plugin_api::key::ProtobufMainKey;
    use zellij_tile::shim::prost::Message;
    STATE.with(|state| {
        let bytes: Vec<u8> = zellij_tile::shim::object_from_stdin().unwrap();
        let event = ProtobufEvent::decode(bytes.as_slice()).unwrap();
        let typed = match &event.payload {
            Some(ProtobufEventPayload::KeyPayload(k)) => match k.main_key {
                Some(ProtobufMainKey::Char(c)) => char::from_u32(c as u32),
                _ => None,
            },
            _ => None,
        };
        let mut event: Event = event.try_into().unwrap();
        if let (Event::Key(k), Some(c)) = (&mut event, typed) {
            k.bare_key = BareKey::Char(c);
        }
        state.borrow_mut().update(event)
    })
}

#[no_mangle]
pub fn pipe() -> bool {
    use zellij_tile::shim::plugin_api::pipe_message::ProtobufPipeMessage;
    use zellij_tile::shim::prost::Message;
    STATE.with(|state| {
        let bytes: Vec<u8> = zellij_tile::shim::object_from_stdin().unwrap();
        let message = ProtobufPipeMessage::decode(bytes.as_slice()).unwrap();
        state.borrow_mut().pipe(message.try_into().unwrap())
    })
}

#[no_mangle]
pub fn render(rows: i32, cols: i32) {
    STATE.with(|state| state.borrow_mut().render(rows as usize, cols as usize));
}

#[no_mangle]
pub fn plugin_version() {
    println!("{}", zellij_tile::prelude::VERSION);
}

/// Performs effects with `zellij-tile` calls.
struct Zellij;

impl Host for Zellij {
    fn perform(&mut self, effect: Effect) -> Option<Input> {
        match effect {
            Effect::Run { argv, env, context } => {
                let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                run_command_with_env_variables_and_cwd(&argv, env, PathBuf::from("."), context);
                None
            }
            Effect::Rename { pane, name } => {
                rename_terminal_pane(pane, name);
                None
            }
            Effect::RenameTab { position, name } => {
                // (Zellij counts tabs from 1 here)
                rename_tab(position as u32 + 1, name);
                None
            }
            Effect::Focus(pane) => {
                focus_terminal_pane(pane, false, false);
                None
            }
            Effect::OpenPane {
                argv,
                cwd_of,
                name,
                placement,
            } => {
                let mut args = argv.into_iter();
                let command = RunCommandAction {
                    command: PathBuf::from(args.next()?),
                    args: args.collect(),
                    cwd: cwd_of.and_then(cwd),
                    // (closes when the command ends, like a shell's pane: nothing to re-run)
                    hold_on_close: false,
                    ..Default::default()
                };
                let floating = placement == Placement::Floating;
                let action = match placement {
                    // Splits the pane this instance's client has focused (the parent).
                    Placement::Beside(pane) => Action::NewTiledPane {
                        direction: Some(split_direction(pane)),
                        command: Some(command),
                        pane_name: Some(name),
                        near_current_pane: false,
                        no_focus: false,
                        borderless: None,
                        tab_id: None,
                    },
                    Placement::Floating => Action::NewFloatingPane {
                        command: Some(command),
                        pane_name: Some(name),
                        coordinates: None,
                        near_current_pane: false,
                        no_focus: false,
                        tab_id: None,
                    },
                };
                let context = BTreeMap::from([(
                    "panechat".to_string(),
                    if floating { "floating" } else { "tiled" }.to_string(),
                )]);
                run_action(action, context);
                None
            }
            // (who pressed a key bound to this plugin's messages: the messages do not say)
            Effect::WatchKeys(true) => {
                // (with every event again: Zellij 0.45.1 keeps, for a plugin without a pane, only
                // the events of its last `subscribe` to send it pane and tab updates)
                let mut events = EVENTS.to_vec();
                events.push(EventType::UserAction);
                subscribe(&events);
                None
            }
            Effect::WatchKeys(false) => {
                unsubscribe(&[EventType::UserAction]);
                None
            }
            Effect::ClosePane(pane) => {
                close_terminal_pane(pane);
                None
            }
            Effect::OpenTerminal { cwd_of, context } => {
                let dir = cwd_of.and_then(cwd).unwrap_or_else(|| PathBuf::from("."));
                let pane = match open_terminal(dir) {
                    Some(PaneId::Terminal(id)) => Some(id),
                    _ => None,
                };
                Some(Input::TerminalOpened { context, pane })
            }
            Effect::Show => {
                show_self(true);
                // A plugin started by `load_plugins` keeps a small default geometry, and the
                // alias's location as its name.
                let me = PaneId::Plugin(get_plugin_ids().plugin_id);
                rename_plugin_pane(get_plugin_ids().plugin_id, "panechat: panes");
                if let Some(c) = coordinates() {
                    change_floating_panes_coordinates(vec![(me, c)]);
                }
                None
            }
            Effect::Hide => {
                hide_self();
                None
            }
            Effect::CliOutput { pipe, text } => {
                cli_pipe_output(&pipe, &text);
                None
            }
            Effect::CliUnblock(pipe) => {
                unblock_cli_pipe_input(&pipe);
                None
            }
            Effect::ListClients => {
                list_clients();
                None
            }
            Effect::ZjStatus(text) => {
                pipe_message_to_plugin(
                    MessageToPlugin::new("pipe")
                        .with_payload(format!("zjstatus::pipe::pipe_panechat::{text}")),
                );
                None
            }
            Effect::ReadNames => {
                // (the layout names each pane given a name; an error names none)
                let kdl = dump_session_layout()
                    .map(|(kdl, _)| kdl)
                    .unwrap_or_default();
                Some(Input::Names(model::names::given_names(&kdl)))
            }
        }
    }
}

/// Where floating panes (the picker, the ask pane) go: centred, most of the screen.
fn coordinates() -> Option<FloatingPaneCoordinates> {
    FloatingPaneCoordinates::new(
        Some("10%".into()),
        Some("15%".into()),
        Some("80%".into()),
        Some("70%".into()),
        None,
        None,
    )
}

/// Which way to split terminal pane `pane` for a pane beside it: to the right when it is wide
/// (a cell is about twice as tall as it is wide), else below.
fn split_direction(pane: u32) -> Direction {
    match get_pane_info(PaneId::Terminal(pane)) {
        Some(p) if p.pane_content_rows * 2 > p.pane_content_columns => Direction::Down,
        _ => Direction::Right,
    }
}

fn cwd(pane: u32) -> Option<PathBuf> {
    get_pane_cwd(PaneId::Terminal(pane)).ok()
}

fn key(k: &KeyWithModifier) -> Key {
    let ctrl: BTreeSet<KeyModifier> = [KeyModifier::Ctrl].into();
    match k.bare_key {
        BareKey::Char(c) if k.key_modifiers == ctrl => Key::Ctrl(c.to_ascii_lowercase()),
        _ if !k.has_no_modifiers() && !k.has_only_modifiers(&[KeyModifier::Shift]) => Key::Other,
        BareKey::Char(c) => Key::Char(c),
        BareKey::Enter => Key::Enter,
        BareKey::Esc => Key::Esc,
        BareKey::Backspace => Key::Backspace,
        BareKey::Up => Key::Up,
        BareKey::Down => Key::Down,
        BareKey::PageUp => Key::PageUp,
        BareKey::PageDown => Key::PageDown,
        _ => Key::Other,
    }
}

fn panes(manifest: &PaneManifest) -> Vec<model::Pane> {
    manifest
        .panes
        .iter()
        .flat_map(|(tab, panes)| {
            panes
                .iter()
                .filter(|p| !p.is_plugin && !p.is_suppressed)
                .map(|p| model::Pane {
                    id: p.id,
                    tab: *tab,
                    title: p.title.clone(),
                    focused: p.is_focused,
                    floating: p.is_floating,
                    exited: p.exited,
                    titled_by_command: p.terminal_command.as_deref() == Some(p.title.as_str()),
                })
        })
        .collect()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The plugin's build id (see `build.rs`), kept whole in the `.wasm`'s bytes after this prefix:
/// `panechat doctor` and `panechat init zellij` read it from a plugin file.
static BUILD_MARK: &str = concat!(
    "panechat-zellij-build:",
    env!("PANECHAT_PLUGIN_BUILD"),
    ";"
);

/// The events the plugin always hears; `UserAction` (who pressed a key) is added only while
/// several clients are attached (see `Effect::WatchKeys`).
const EVENTS: [EventType; 11] = [
    EventType::ModeUpdate,
    EventType::SessionUpdate,
    EventType::TabUpdate,
    EventType::PaneUpdate,
    EventType::PaneClosed,
    EventType::PermissionRequestResult,
    EventType::RunCommandResult,
    EventType::Key,
    EventType::Visible,
    EventType::ListClients,
    EventType::ActionComplete,
];

impl ZellijPlugin for Plugin {
    fn load(&mut self, configuration: BTreeMap<String, String>) {
        self.state = model::State::new(model::Config::from_map(&configuration));
        self.state.build = BUILD_MARK
            .trim_start_matches("panechat-zellij-build:")
            .trim_end_matches(';')
            .to_string();
        let zjstatus = self.state.cfg.zjstatus;
        // (Zellij runs one instance per client that attached)
        self.state.client = Some(get_plugin_ids().client_id);
        subscribe(&EVENTS);
        // (subscribed first: the answer to a grant Zellij remembers comes at once)
        let mut permissions = vec![
            PermissionType::ReadApplicationState,
            PermissionType::ChangeApplicationState,
            PermissionType::RunCommands,
            PermissionType::OpenTerminalsOrPlugins,
            PermissionType::ReadCliPipes,
            PermissionType::InterceptInput,
            PermissionType::RunActionsAsUser,
        ];
        if zjstatus {
            // (to tell zjstatus what to show; asked for only with the option)
            permissions.push(PermissionType::MessageAndLaunchOtherPlugins);
        }
        request_permission(&permissions);
    }

    fn update(&mut self, event: Event) -> bool {
        let input = match event {
            Event::ModeUpdate(mode) => match mode.session_name {
                Some(name) => Input::SessionName(name),
                None => return false,
            },
            Event::SessionUpdate(sessions, _) => {
                let Some(s) = sessions.into_iter().find(|s| s.is_current_session) else {
                    return false;
                };
                let redraw = drive(
                    &mut self.state,
                    Input::ClientCount(s.connected_clients),
                    &mut Zellij,
                );
                return drive(&mut self.state, Input::SessionName(s.name), &mut Zellij) || redraw;
            }
            Event::ListClients(clients) => Input::Clients(
                clients
                    .iter()
                    .map(|c| model::Client {
                        id: c.client_id,
                        current: c.is_current_client,
                        pane: match c.pane_id {
                            PaneId::Terminal(id) => Some(id),
                            PaneId::Plugin(_) => None,
                        },
                    })
                    .collect(),
            ),
            Event::TabUpdate(tabs) => Input::Tabs(
                tabs.iter()
                    .map(|t| model::Tab {
                        position: t.position,
                        name: t.name.clone(),
                        active: t.active,
                        floating_visible: t.are_floating_panes_visible,
                        id: Some(t.tab_id),
                    })
                    .collect(),
            ),
            Event::PaneUpdate(manifest) => Input::Panes(panes(&manifest)),
            Event::PaneClosed(PaneId::Terminal(id)) => Input::PaneClosed(id),
            Event::PermissionRequestResult(status) => {
                Input::Permission(status == PermissionStatus::Granted)
            }
            Event::RunCommandResult(exit, stdout, stderr, context) => Input::CommandDone {
                context,
                exit,
                stdout: String::from_utf8_lossy(&stdout).into_owned(),
                stderr: String::from_utf8_lossy(&stderr).into_owned(),
            },
            Event::UserAction(Action::KeybindPipe { .. }, client, _, _) => Input::KeyBy(client),
            Event::ActionComplete(_, Some(PaneId::Terminal(pane)), context)
                if context.get("panechat").map(String::as_str) == Some("floating") =>
            {
                // (a floating pane opened by an action gets Zellij's default geometry)
                if let Some(c) = coordinates() {
                    change_floating_panes_coordinates(vec![(PaneId::Terminal(pane), c)]);
                }
                return false;
            }
            Event::Key(k) => Input::Key(key(&k)),
            Event::Visible(v) => Input::Visible(v),
            _ => return false,
        };
        drive(&mut self.state, input, &mut Zellij)
    }

    fn pipe(&mut self, message: PipeMessage) -> bool {
        let cli = match &message.source {
            PipeSource::Cli(id) => Some(id.clone()),
            _ => None,
        };
        let input = Input::Pipe {
            name: message.name,
            payload: message.payload,
            cli,
        };
        drive(&mut self.state, input, &mut Zellij)
    }

    fn render(&mut self, rows: usize, cols: usize) {
        for (i, line) in model::render::render(&self.state, rows, cols, now())
            .iter()
            .enumerate()
        {
            if i + 1 < rows {
                println!("{line}");
            } else {
                print!("{line}");
            }
        }
    }
}

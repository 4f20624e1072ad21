//! The read-only file system `bt mount` serves through `fuser`: a tree of the torrents' files
//! (a single-file torrent's file at the top, a multi-file torrent's under its name), each read
//! answered from a blocking [`Reader`](torrentkit_peer::session::Reader) per open file, on a
//! thread of its own so a read waiting for a piece holds up nothing else.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::io::{Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyEntry, ReplyOpen, Request,
};
use torrentkit_peer::session::{BlockingReader, Readers};

/// Attributes are cached by the kernel this long (a torrent added shows within it).
const TTL: Duration = Duration::from_secs(1);

#[derive(Debug)]
enum Kind {
    Dir(BTreeMap<OsString, u64>),
    File {
        torrent: usize,
        file: usize,
        len: u64,
    },
}

#[derive(Debug)]
struct Node {
    kind: Kind,
    /// The torrent it belongs to was removed from the directory.
    hidden: bool,
    /// The torrent whose files these are (`None` for the root).
    owner: Option<usize>,
}

/// What the file system shows and serves; shared with the loop that follows the directory.
#[derive(Debug)]
pub(crate) struct State {
    nodes: Vec<Node>,
    torrents: Vec<Readers>,
    open: HashMap<u64, Arc<Mutex<BlockingReader>>>,
    next_fh: u64,
    readahead: u64,
    uid: u32,
    gid: u32,
}

impl State {
    pub(crate) fn new(readahead: u64, uid: u32, gid: u32) -> State {
        State {
            nodes: vec![Node {
                kind: Kind::Dir(BTreeMap::new()),
                hidden: false,
                owner: None,
            }],
            torrents: Vec::new(),
            open: HashMap::new(),
            next_fh: 1,
            readahead,
            uid,
            gid,
        }
    }

    fn child(&mut self, dir: u64, name: &str, kind: Kind, owner: usize) -> Option<u64> {
        let ino = self.nodes.len() as u64 + 1;
        let Kind::Dir(children) = &mut self.nodes.get_mut(dir as usize - 1)?.kind else {
            return None;
        };
        if let Some(&existing) = children.get(OsStr::new(name)) {
            // A directory of the same torrent is shared; anything else keeps the first.
            let node = &self.nodes[existing as usize - 1];
            return (matches!(node.kind, Kind::Dir(_))
                && matches!(kind, Kind::Dir(_))
                && node.owner == Some(owner))
            .then_some(existing);
        }
        children.insert(name.into(), ino);
        self.nodes.push(Node {
            kind,
            hidden: false,
            owner: Some(owner),
        });
        Some(ino)
    }

    /// Adds a torrent called `name` with `files` (path inside the torrent, length, pad);
    /// returns its index, for [`remove`](Self::remove).
    pub(crate) fn add(
        &mut self,
        name: &str,
        multi_file: bool,
        files: &[(Vec<String>, u64, bool)],
        readers: Readers,
    ) -> usize {
        let t = self.torrents.len();
        self.torrents.push(readers);
        let top = if multi_file {
            self.child(1, name, Kind::Dir(BTreeMap::new()), t)
        } else {
            Some(1)
        };
        let Some(top) = top else {
            return t;
        };
        for (i, (path, len, pad)) in files.iter().enumerate() {
            if *pad {
                continue;
            }
            let mut dir = top;
            let Some((last, parents)) = path.split_last() else {
                continue;
            };
            let mut ok = true;
            for p in parents {
                match self.child(dir, p, Kind::Dir(BTreeMap::new()), t) {
                    Some(d) => dir = d,
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            let shown = if multi_file { last.as_str() } else { name };
            if ok {
                self.child(
                    dir,
                    shown,
                    Kind::File {
                        torrent: t,
                        file: i,
                        len: *len,
                    },
                    t,
                );
            }
        }
        t
    }

    /// Hides torrent `t`'s files (its .torrent or .magnet left the directory).
    pub(crate) fn remove(&mut self, t: usize) {
        for n in &mut self.nodes {
            if n.owner == Some(t) {
                n.hidden = true;
            }
        }
    }

    fn node(&self, ino: INodeNo) -> Option<&Node> {
        let n = self.nodes.get((u64::from(ino) as usize).checked_sub(1)?)?;
        (!n.hidden).then_some(n)
    }

    fn attr(&self, ino: u64, node: &Node) -> FileAttr {
        let (kind, size, perm, nlink) = match &node.kind {
            Kind::Dir(_) => (FileType::Directory, 0, 0o555, 2),
            Kind::File { len, .. } => (FileType::RegularFile, *len, 0o444, 1),
        };
        FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: UNIX_EPOCH,
            mtime: UNIX_EPOCH,
            ctime: UNIX_EPOCH,
            crtime: UNIX_EPOCH,
            kind,
            perm,
            nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            flags: 0,
            blksize: 16 * 1024,
        }
    }
}

/// The `fuser` file system over a shared [`State`].
pub(crate) struct TorrentFs {
    pub(crate) state: Arc<Mutex<State>>,
    pub(crate) runtime: tokio::runtime::Handle,
}

impl TorrentFs {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Filesystem for TorrentFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let st = self.lock();
        let found = match st.node(parent).map(|n| &n.kind) {
            Some(Kind::Dir(children)) => children.get(name).copied(),
            _ => None,
        };
        match found.and_then(|ino| st.node(INodeNo(ino)).map(|n| (ino, n))) {
            Some((ino, n)) => reply.entry(&TTL, &st.attr(ino, n), Generation(0)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let st = self.lock();
        match st.node(ino) {
            Some(n) => reply.attr(&TTL, &st.attr(u64::from(ino), n)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let st = self.lock();
        let Some(Kind::Dir(children)) = st.node(ino).map(|n| &n.kind) else {
            reply.error(Errno::ENOTDIR);
            return;
        };
        let mut entries: Vec<(u64, FileType, OsString)> = vec![
            (u64::from(ino), FileType::Directory, ".".into()),
            (u64::from(ino), FileType::Directory, "..".into()),
        ];
        for (name, &child) in children {
            if let Some(n) = st.node(INodeNo(child)) {
                let kind = match n.kind {
                    Kind::Dir(_) => FileType::Directory,
                    Kind::File { .. } => FileType::RegularFile,
                };
                entries.push((child, kind, name.clone()));
            }
        }
        for (i, (child, kind, name)) in entries.into_iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(child), (i + 1) as u64, kind, &name) {
                break;
            }
        }
        reply.ok();
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if flags.0 & libc::O_ACCMODE != libc::O_RDONLY {
            reply.error(Errno::EROFS);
            return;
        }
        let mut st = self.lock();
        let Some(Kind::File { torrent, file, .. }) = st.node(ino).map(|n| &n.kind) else {
            reply.error(Errno::EISDIR);
            return;
        };
        let (torrent, file) = (*torrent, *file);
        let Some(mut reader) = st.torrents.get(torrent).and_then(|r| r.reader(Some(file))) else {
            reply.error(Errno::EIO);
            return;
        };
        reader.set_readahead(st.readahead);
        let fh = st.next_fh;
        st.next_fh += 1;
        st.open.insert(
            fh,
            Arc::new(Mutex::new(reader.into_blocking(self.runtime.clone()))),
        );
        reply.opened(FileHandle(fh), FopenFlags::empty());
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let Some(reader) = self.lock().open.get(&fh.0).cloned() else {
            reply.error(Errno::EBADF);
            return;
        };
        // Off the FUSE loop: a read may wait for a piece to arrive.
        std::thread::spawn(move || {
            let mut r = reader.lock().unwrap_or_else(PoisonError::into_inner);
            let mut buf = vec![0u8; size as usize];
            let mut got = 0;
            let result = r.seek(SeekFrom::Start(offset)).and_then(|_| {
                while got < buf.len() {
                    match r.read(&mut buf[got..])? {
                        0 => break,
                        n => got += n,
                    }
                }
                Ok(())
            });
            match result {
                Ok(()) => reply.data(&buf[..got]),
                Err(e) => {
                    log::info!("bt mount: read at {offset}: {e}");
                    reply.error(Errno::EIO);
                }
            }
        });
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: fuser::ReplyEmpty,
    ) {
        // The reader is dropped with its last read: its window is released.
        self.lock().open.remove(&fh.0);
        reply.ok();
    }
}

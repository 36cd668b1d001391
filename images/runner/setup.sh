# Run once at build time by busybox's sh. It fills in what the base image lacks and leaves what it
# has (node:24-slim brings its own shell, users and certificates; the stack's scratch base none).
set -eu
src=/usr/share/shipline-runner
bb=/bin/busybox
# Applets only where nothing of that name exists, so a Debian base keeps its own coreutils.
for applet in $($bb --list); do
  for dir in /bin /usr/bin; do [ -e "$dir/$applet" ] && continue 2; done
  $bb ln -s /bin/busybox "/bin/$applet"
done
[ -e /etc/passwd ] || cp "$src/passwd" /etc/passwd
[ -e /etc/group ] || cp "$src/group" /etc/group
if [ ! -s /etc/ssl/certs/ca-certificates.crt ]; then
  mkdir -p /etc/ssl/certs
  cp "$src/ca-certificates.crt" /etc/ssl/certs/ca-certificates.crt
fi
cp "$src/shipline" /usr/local/bin/shipline
cp "$src/shipline-output" /usr/local/bin/shipline-output
chmod 0755 /usr/local/bin/shipline /usr/local/bin/shipline-output
# Jenkins runs the agent as the host user's uid, which has no entry here: HOME and /tmp writable for all.
mkdir -p /tmp /root /home/runner /workspace
chmod 1777 /tmp /home/runner
# Fail the build, not the first job, when a tool cannot start on this base.
node --version
docker --version
docker buildx version
kubectl version --client
shipline --version

// A local SMTP receiver for the e-mail journey: the Playwright portals send
// their notifications here (EOD_SMTP_URL=smtp://127.0.0.1:3191), and the
// tests read what arrived from http://127.0.0.1:3192/messages (JSON). Only
// SMTP's happy path (EHLO, MAIL, RCPT, DATA, QUIT): it is a test double.
import { createServer as createTcp } from 'net';
import { createServer as createHttp } from 'http';

const smtpPort = Number(process.env.SMTP_PORT ?? 3191);
const httpPort = Number(process.env.SMTP_HTTP_PORT ?? 3192);
const messages = [];

createTcp((socket) => {
  let buffer = '';
  let mail = { from: '', to: [], data: '' };
  let inData = false;
  const reply = (line) => socket.write(`${line}\r\n`);
  reply('220 e2e ESMTP');
  socket.on('data', (chunk) => {
    buffer += chunk.toString('utf8');
    let i;
    while ((i = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      if (inData) {
        if (line === '.') {
          inData = false;
          messages.push({ ...mail, at: Date.now() });
          mail = { from: '', to: [], data: '' };
          reply('250 queued');
        } else {
          mail.data += (line.startsWith('.') ? line.slice(1) : line) + '\n';
        }
        continue;
      }
      const upper = line.toUpperCase();
      if (upper.startsWith('EHLO') || upper.startsWith('HELO')) reply('250-e2e\r\n250 8BITMIME');
      else if (upper.startsWith('MAIL FROM:')) { mail.from = line.slice(10).trim(); reply('250 ok'); }
      else if (upper.startsWith('RCPT TO:')) { mail.to.push(line.slice(8).trim()); reply('250 ok'); }
      else if (upper === 'DATA') { inData = true; reply('354 go on'); }
      else if (upper === 'QUIT') { reply('221 bye'); socket.end(); }
      else reply('250 ok');
    }
  });
  socket.on('error', () => {});
}).listen(smtpPort, '127.0.0.1');

createHttp((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(messages));
}).listen(httpPort, '127.0.0.1');

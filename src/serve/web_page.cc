// The self-contained page at "/": models with state, a metrics excerpt, a form that posts an
// .npy (or an image, resized to the model's input) to the infer endpoint and shows outputs, and
// for a GGUF model a chat box streaming from /v1/chat/completions. URL parameters drive it
// without clicks (tests): ?model=M&npy=URL, ?chat=TEXT&max_tokens=N&temperature=T, ?key=K.
#include "serve/server.h"

namespace pare::serve {

const char* web_page_html() {
  return R"HTML(<!doctype html>
<html><head><meta charset="utf-8"><title>pare serve</title>
<style>body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.3em .6em}pre{background:#f4f4f4;padding:.5em;max-height:20em;overflow:auto}
.READY{color:green}.UNAVAILABLE{color:#b00}</style></head>
<body><h1>pare serve</h1>
<h2>Models</h2><table id="models"><tr><th>name</th><th>version</th><th>state</th><th>reason</th></tr></table>
<h2>Infer</h2>
<form id="f">model <select id="model"></select>
API key <input id="key" type="password" size="12">
file (.npy or image) <input id="file" type="file"> <button>send</button></form>
<pre id="result">(no request yet)</pre>
<div id="chat" style="display:none"><h2>Chat <span id="llm"></span></h2>
<pre id="chat-log"></pre>
<form id="cf"><textarea id="chat-input" rows="3" cols="70" placeholder="message"></textarea><br>
max tokens <input id="chat-max" type="number" value="128" min="0" size="6">
temperature <input id="chat-temp" type="number" value="0.8" step="0.1" min="0" size="5">
<button id="chat-send">send</button> <button type="button" id="chat-clear">clear</button></form>
<div id="chat-usage"></div></div>
<h2>Metrics</h2><pre id="metrics"></pre>
<script>
function hdr(){const k=document.getElementById('key').value;return k?{'Authorization':'Bearer '+k}:{};}
async function refresh(){
  const r=await fetch('/v2/repository/index',{method:'POST',headers:hdr()});
  if(!r.ok){document.getElementById('result').textContent='index: HTTP '+r.status;return;}
  const ms=await r.json();const t=document.getElementById('models');const sel=document.getElementById('model');
  while(t.rows.length>1)t.deleteRow(1);sel.innerHTML='';
  for(const m of ms){const row=t.insertRow();row.insertCell().textContent=m.name;row.insertCell().textContent=m.version||'';
    const s=row.insertCell();s.textContent=m.state;s.className=m.state;row.insertCell().textContent=m.reason||'';
    const o=document.createElement('option');o.textContent=m.name;sel.appendChild(o);}
  const mt=await fetch('/metrics',{headers:hdr()});
  document.getElementById('metrics').textContent=(await mt.text()).split('\n').filter(l=>l.startsWith('pare_requests_total')||l.startsWith('pare_model_loaded')).join('\n');
}
const NPY={'<f4':['FP32',Float32Array],'<f8':['FP64',Float64Array],'<i8':['INT64',BigInt64Array],'<i4':['INT32',Int32Array],'|u1':['UINT8',Uint8Array],'|i1':['INT8',Int8Array]};
function parseNpy(buf){const v=new DataView(buf);const major=v.getUint8(6);const hl=major==1?v.getUint16(8,true):v.getUint32(8,true);
  const off=major==1?10:12;const h=new TextDecoder().decode(new Uint8Array(buf,off,hl));
  const d=/'descr':\s*'([^']+)'/.exec(h)[1];const shape=/'shape':\s*\(([^)]*)\)/.exec(h)[1].split(',').filter(s=>s.trim()).map(Number);
  if(!NPY[d])throw 'unsupported npy dtype '+d;return {datatype:NPY[d][0],shape,bytes:buf.slice(off+hl)};}
async function imageTensor(file,meta){const inp=meta.inputs[0];const s=inp.shape;const C=s[1]>0?s[1]:3,H=s[2]>0?s[2]:224,W=s[3]>0?s[3]:224;
  const img=await createImageBitmap(file);const c=new OffscreenCanvas(W,H);const g=c.getContext('2d');g.drawImage(img,0,0,W,H);
  const px=g.getImageData(0,0,W,H).data;const out=new Float32Array(C*H*W);
  for(let ch=0;ch<C;ch++)for(let i=0;i<H*W;i++)out[ch*H*W+i]=(C==1?(px[4*i]+px[4*i+1]+px[4*i+2])/3:px[4*i+ch])/255;
  return {datatype:'FP32',shape:[1,C,H,W],bytes:out.buffer};}
async function infer(model,name,buf){const out=document.getElementById('result');
  try{const meta=await (await fetch('/v2/models/'+model,{headers:hdr()})).json();
    const t=name.endsWith('.npy')?parseNpy(buf):await imageTensor(new Blob([buf]),meta);
    const head=JSON.stringify({inputs:[{name:meta.inputs[0].name,datatype:t.datatype,shape:t.shape,parameters:{binary_data_size:t.bytes.byteLength}}]});
    const body=new Blob([head,t.bytes]);
    const r=await fetch('/v2/models/'+model+'/infer',{method:'POST',body,headers:Object.assign({'Inference-Header-Content-Length':String(new TextEncoder().encode(head).length),'Content-Type':'application/octet-stream'},hdr())});
    const j=await r.json();if(!r.ok){out.textContent='HTTP '+r.status+': '+j.error;return;}
    let txt='';for(const o of j.outputs){let d=o.data;let arg='';if(o.datatype=='FP32'&&d.length){let b=0;d.forEach((x,i)=>{if(x>d[b])b=i});arg=' argmax='+b;}
      txt+=o.name+' '+o.datatype+' ['+o.shape+']'+arg+'\n'+JSON.stringify(d.slice(0,100))+'\n';}
    out.textContent=txt;out.dataset.done='1';refresh();}catch(err){out.textContent='error: '+err;}}
document.getElementById('f').onsubmit=async e=>{e.preventDefault();const file=document.getElementById('file').files[0];
  if(!file){document.getElementById('result').textContent='choose a file first';return;}
  await infer(document.getElementById('model').value,file.name,await file.arrayBuffer());};
const history=[];
async function chat(text){const log=document.getElementById('chat-log');history.push({role:'user',content:text});
  log.textContent+='user: '+text+'\nassistant: ';let answer='';
  const span=document.createElement('span');span.id='chat-answer-'+history.length;log.appendChild(span);
  try{const r=await fetch('/v1/chat/completions',{method:'POST',headers:Object.assign({'Content-Type':'application/json'},hdr()),
      body:JSON.stringify({messages:history,stream:true,stream_options:{include_usage:true},
        max_tokens:Number(document.getElementById('chat-max').value),temperature:Number(document.getElementById('chat-temp').value)})});
    if(!r.ok){const j=await r.json();span.textContent='[HTTP '+r.status+': '+j.error.message+']';history.pop();return;}
    const rd=r.body.getReader();const dec=new TextDecoder();let buf='';
    for(;;){const {done,value}=await rd.read();if(done)break;buf+=dec.decode(value,{stream:true});let k;
      while((k=buf.indexOf('\n\n'))>=0){const ev=buf.slice(0,k);buf=buf.slice(k+2);if(!ev.startsWith('data: '))continue;
        const d=ev.slice(6);if(d=='[DONE]')continue;const j=JSON.parse(d);
        if(j.usage)document.getElementById('chat-usage').textContent='prompt '+j.usage.prompt_tokens+' tokens, completion '+j.usage.completion_tokens+' tokens';
        for(const c of j.choices||[]){if(c.delta&&c.delta.content){answer+=c.delta.content;span.textContent=answer;}
          if(c.finish_reason)span.dataset.finish=c.finish_reason;}}}
    history.push({role:'assistant',content:answer});log.appendChild(document.createTextNode('\n'));span.dataset.done='1';
  }catch(err){span.textContent='[error: '+err+']';}}
document.getElementById('cf').onsubmit=async e=>{e.preventDefault();const i=document.getElementById('chat-input');const t=i.value;i.value='';if(t)await chat(t);};
document.getElementById('chat-clear').onclick=()=>{history.length=0;document.getElementById('chat-log').textContent='';};
async function start(){await refresh();
  const lm=await fetch('/v1/models',{headers:hdr()});
  if(lm.ok){const j=await lm.json();document.getElementById('chat').style.display='';document.getElementById('llm').textContent='('+j.data[0].id+')';}
  // Automation (tests, links): ?model=M&npy=URL runs an inference; ?chat=TEXT[&max_tokens=N&temperature=T] sends a message.
  const q=new URLSearchParams(location.search);
  if(q.get('key'))document.getElementById('key').value=q.get('key');
  if(q.get('npy')){const r=await fetch(q.get('npy'));await infer(q.get('model')||document.getElementById('model').value,'input.npy',await r.arrayBuffer());}
  if(q.get('chat')&&lm.ok){if(q.get('max_tokens'))document.getElementById('chat-max').value=q.get('max_tokens');
    if(q.get('temperature'))document.getElementById('chat-temp').value=q.get('temperature');await chat(q.get('chat'));}}
start();
</script></body></html>
)HTML";
}

}  // namespace pare::serve
